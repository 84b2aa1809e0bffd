"""Settings for one `lrfind run`: every layer merged into one RunConfig.

Precedence is command line > config file > what build returns > defaults. The
first two are merged here by filling only what was not given (None means "not
given"); what build returns (its optimizer, and a Trainer's or Lightning's
clipping, accumulation and precision) is applied later, only to the settings
no layer here set (RunConfig.explicit names those).
Like the rest of lrfind.config, this never imports torch or numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lrfind.config.files import load_toml, parse_build_args, read_config
from lrfind.config.paths import user_path
from lrfind.config.settings import SweepConfig, check
from lrfind.config.torchrun import TorchrunEnv, torchrun_env
from lrfind.errors import ConfigError, UsageError

DEFAULT_OUT_DIR = "lrfind-out"
DEFAULT_DIST_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RunConfig:
    """Everything `lrfind run` needs, after merging all layers."""

    spec: str
    build_kwargs: dict[str, Any]
    sweep: SweepConfig
    out_dir: Path
    plot: bool
    config_file: str | None = None
    #: Run as one rank of a torchrun job (lrfind.distributed).
    distributed: bool = False
    #: Seconds a collective may wait for the other ranks before the run fails.
    dist_timeout: float = DEFAULT_DIST_TIMEOUT_S
    #: torchrun's variables, as read when the settings were resolved.
    torchrun: TorchrunEnv = field(default_factory=TorchrunEnv)
    #: The SweepConfig fields the command line or the config file set: what build
    #: returns (a Trainer's max_grad_norm, say) may fill only the others.
    explicit: frozenset[str] = frozenset()
    #: Where the config file set what the command line did not ("spec",
    #: "build_kwargs", SweepConfig fields), as "lrfind.toml: [sweep] device = 'cuda:7'":
    #: an error about such a setting names the file's line, not a flag never given.
    origins: Mapping[str, str] = field(default_factory=dict)
    #: --debug: a failing torchrun rank other than 0 prints its own traceback too.
    debug: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Every effective setting, for the report."""
        return {
            "spec": self.spec,
            "build_kwargs": dict(self.build_kwargs),
            **self.sweep.to_dict(),
            "out_dir": str(self.out_dir),
            "plot": self.plot,
            "config_file": self.config_file,
        }


_CLI_NAMES = {f.name: "--" + f.name.replace("_", "-") for f in fields(SweepConfig)}


def resolve(
    spec: str | None,
    cli: Mapping[str, Any],
    build_args: list[str] | None = None,
    config_file: str | None = None,
    torchrun: TorchrunEnv | None = None,
) -> RunConfig:
    """Merge the command line (`cli`: None = not given) over a config file over defaults."""
    file_values, problems = (
        read_config(load_toml(config_file), config_file) if config_file else ({}, [])
    )
    given = {k: v for k, v in cli.items() if v is not None}
    if "optimizer" in given and _lower(given["optimizer"]) != _lower(file_values.get("optimizer")):
        # The file's optimizer kwargs belong to the file's optimizer only.
        file_values.pop("optimizer_kwargs", None)
    merged: dict[str, Any] = {**file_values, **given}

    def source(name: str, file: bool = False) -> str:
        if name in given and not file:
            return f"{_CLI_NAMES.get(name, name)} {given[name]!r}"
        if name == "optimizer_kwargs":
            return f"{config_file}: [optimizer]"
        if name in file_values:
            key = "name" if name == "optimizer" else name
            table = "optimizer" if name == "optimizer" else "sweep"
            return f"{config_file}: [{table}] {key} = {_toml(file_values[name])}"
        return f"{name} (default {defaults[name]!r})"

    defaults = SweepConfig().to_dict()
    sweep_values = {name: merged.get(name, default) for name, default in defaults.items()}
    # The file's unknown keys and wrong types, and every value out of range, at once.
    problems += [f"{source(name)}: {msg}" for name, msg in check(_Values(sweep_values))]
    # A file's value the command line overrides is still checked: the next run without
    # the flag (a CI job) would get it.
    shadowed = {name for name in file_values if name in given and name in defaults}
    if shadowed:
        alone = {name: file_values.get(name, default) for name, default in defaults.items()}
        problems += [f"{source(name, file=True)}: {msg} (overridden by {_CLI_NAMES[name]} here; "
                     "a run without it would stop on it)"
                     for name, msg in check(_Values(alone)) if name in shadowed]  # fmt: skip
    if problems:
        raise ConfigError(problems)

    origins = _origins(config_file, file_values, {**given, "spec": spec}, build_args)
    spec = spec or file_values.get("spec")
    if not spec:
        raise UsageError(
            "no SPEC given: pass one like 'model.py:build' or set spec = '...' in the config file"
        )
    build_kwargs = {**file_values.get("build_kwargs", {}), **parse_build_args(build_args)}
    plot = merged.get("plot")
    env = torchrun_env() if torchrun is None else torchrun
    distributed = env.distributed(given.get("distributed"))
    if distributed and sweep_values.get("refine") is True:
        raise UsageError(
            "--refine runs in one process, not under torchrun: run it without torchrun, on "
            "one device, or drop --refine",
            setting="refine",
        )
    return RunConfig(
        spec=spec,
        build_kwargs=build_kwargs,
        sweep=SweepConfig(**sweep_values),
        # Absolute now: the user's code may change the cwd before the outputs are written.
        out_dir=user_path(merged.get("out_dir") or DEFAULT_OUT_DIR),
        plot=True if plot is None else bool(plot),
        config_file=config_file,
        distributed=distributed,
        dist_timeout=_dist_timeout(given.get("dist_timeout")),
        torchrun=env,
        explicit=frozenset(k for k in merged if k in defaults),
        origins=origins,
    )


def _origins(
    config_file: str | None,
    file_values: Mapping[str, Any],
    given: Mapping[str, Any],
    build_args: list[str] | None,
) -> dict[str, str]:
    """The config file's line for each setting it decided (see RunConfig.origins)."""
    out: dict[str, str] = {}
    for name, value in file_values.items():
        if given.get(name) is not None:
            continue
        if name == "spec":
            out[name] = f"{config_file}: spec = {value!r}"
        elif name in ("build_kwargs", "optimizer_kwargs"):
            table = "build" if name == "build_kwargs" else "optimizer"
            out[name] = f"{config_file}: [{table}]"
        elif name == "optimizer":
            out[name] = f"{config_file}: [optimizer] name = {value!r}"
        elif name in _CLI_NAMES:
            out[name] = f"{config_file}: [sweep] {name} = {_toml(value)}"
        elif name in ("out_dir", "plot"):
            out[name] = f"{config_file}: [output] {name} = {_toml(value)}"
    if build_args and "build_kwargs" in out:
        out["build_kwargs"] += " or --arg"
    return out


def _toml(value: Any) -> str:
    """A config file's value as the file spells it: true, not True."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _dist_timeout(timeout: float | None) -> float:
    if timeout is None:
        return DEFAULT_DIST_TIMEOUT_S
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"--dist-timeout {timeout!r}: must be a number of seconds > 0")
    return float(timeout)


class _Values:
    """Attribute access over a dict, so `check` can read unvalidated values."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


def _lower(name: Any) -> Any:
    """An optimizer name as SweepConfig keeps it: "SGD" and "sgd" are one optimizer."""
    return name.lower() if isinstance(name, str) else name
