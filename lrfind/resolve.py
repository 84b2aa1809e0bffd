"""Settings for one `lrfind run`: TOML config files, --arg parsing, precedence.

Precedence is command line > config file > what build returns > defaults. The
first two are merged here by filling only what was not given (None means "not
given"); build's optimizer is applied later, only when no layer here named one.
Like config.py, this module never imports torch or numpy.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lrfind.config import SweepConfig, check
from lrfind.errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# [sweep] keys and the types a TOML value may have for each.
_SWEEP_KEYS: dict[str, tuple[type, ...]] = {
    "start_lr": (int, float),
    "end_lr": (int, float),
    "steps": (int,),
    "mode": (str,),
    "smoothing": (int, float),
    "diverge_threshold": (int, float),
    "seed": (int,),
    "device": (str,),
    "method": (str,),
    "amp": (str,),
    "accumulate": (int,),
    "compile": (bool,),
    "channels_last": (bool,),
    "repeats": (int,),
    "val_batches": (int,),
}
_OUTPUT_KEYS: dict[str, tuple[type, ...]] = {"out_dir": (str,), "plot": (bool,)}
_TABLES = ("sweep", "optimizer", "build", "output")
DEFAULT_OUT_DIR = "lrfind-out"
# What torchrun sets in every process it starts (lrfind.distributed reads them).
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
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


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a ConfigError that names it."""
    p = Path(path)
    if not p.is_file():
        what = "is a directory" if p.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}: pass an existing .toml file to --config")
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} cannot be read: {e}") from None


def parse_config(doc: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Check a parsed config's keys and types; return its settings, flat.

    Returns a dict with SweepConfig field names, "out_dir", "plot", "spec" and
    "build_kwargs" where the file sets them. All problems are reported together.
    """
    problems: list[str] = []
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "spec":
            if isinstance(value, str):
                flat["spec"] = value
            else:
                problems.append(f"{label}: spec must be a string like 'model.py:build'")
        elif key not in _TABLES:
            problems.append(
                f"{label}: unknown key '{key}' (allowed: spec, [{'], ['.join(_TABLES)}])"
            )
        elif not isinstance(value, dict):
            problems.append(f"{label}: '{key}' must be a table, [{key}]")
        elif key in ("sweep", "output"):
            allowed = _SWEEP_KEYS if key == "sweep" else _OUTPUT_KEYS
            for k, v in value.items():
                if k not in allowed:
                    problems.append(
                        f"{label}: unknown key '{k}' in [{key}] (allowed: {', '.join(allowed)})"
                    )
                elif not isinstance(v, allowed[k]) or (
                    isinstance(v, bool) and bool not in allowed[k]
                ):
                    want = " or ".join(t.__name__ for t in allowed[k])
                    problems.append(
                        f"{label}: [{key}] {k} = {v!r} has the wrong type: expected {want}"
                    )
                else:
                    flat[k] = v
        elif key == "optimizer":
            kwargs = dict(value)
            name = kwargs.pop("name", None)
            if name is not None and not isinstance(name, str):
                problems.append(f"{label}: [optimizer] name must be a string like 'adamw'")
            else:
                flat["optimizer"] = name
                flat["optimizer_kwargs"] = kwargs
        else:  # build
            flat["build_kwargs"] = dict(value)
    if problems:
        raise ConfigError(problems)
    return flat


def parse_build_args(items: list[str] | None) -> dict[str, Any]:
    """Parse `--arg key=value` items; values are TOML literals, else plain strings.

    >>> parse_build_args(["width=256", "name=mlp", "ratios=[1, 2]"])
    {'width': 256, 'name': 'mlp', 'ratios': [1, 2]}
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(
                f"--arg {item!r} is malformed: use --arg key=value with a Python identifier as key"
            )
        out[key] = _literal(raw.strip())
    return out


def _literal(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


_CLI_NAMES = {f.name: "--" + f.name.replace("_", "-") for f in fields(SweepConfig)}


def resolve(
    spec: str | None,
    cli: Mapping[str, Any],
    build_args: list[str] | None = None,
    config_file: str | None = None,
) -> RunConfig:
    """Merge the command line (`cli`: None = not given) over a config file over defaults."""
    file_values = parse_config(load_toml(config_file), config_file) if config_file else {}
    given = {k: v for k, v in cli.items() if v is not None}
    if "optimizer" in given and given["optimizer"] != file_values.get("optimizer"):
        # The file's optimizer kwargs belong to the file's optimizer only.
        file_values.pop("optimizer_kwargs", None)
    merged: dict[str, Any] = {**file_values, **given}

    def source(name: str) -> str:
        if name in given:
            return f"{_CLI_NAMES.get(name, name)} {given[name]!r}"
        if name == "optimizer_kwargs":
            return f"{config_file}: [optimizer]"
        if name in file_values:
            key = "name" if name == "optimizer" else name
            table = "optimizer" if name == "optimizer" else "sweep"
            return f"{config_file}: [{table}] {key} = {file_values[name]!r}"
        return f"{name} (default {defaults[name]!r})"

    defaults = SweepConfig().to_dict()
    sweep_values = {name: merged.get(name, default) for name, default in defaults.items()}
    problems = [f"{source(name)}: {msg}" for name, msg in check(_Values(sweep_values))]
    if problems:
        raise ConfigError(problems)

    spec = spec or file_values.get("spec")
    if not spec:
        raise UsageError(
            "no SPEC given: pass one like 'model.py:build' or set spec = '...' in the config file"
        )
    build_kwargs = {**file_values.get("build_kwargs", {}), **parse_build_args(build_args)}
    plot = merged.get("plot")
    distributed, dist_timeout = _distributed(given.get("distributed"), given.get("dist_timeout"))
    return RunConfig(
        spec=spec,
        build_kwargs=build_kwargs,
        sweep=SweepConfig(**sweep_values),
        out_dir=Path(merged.get("out_dir") or DEFAULT_OUT_DIR),
        plot=True if plot is None else bool(plot),
        config_file=config_file,
        distributed=distributed,
        dist_timeout=dist_timeout,
    )


def _distributed(flag: bool | None, timeout: float | None) -> tuple[bool, float]:
    """Whether to run as a torchrun rank (None: when torchrun's environment is set)."""
    launched = all(name in os.environ for name in TORCHRUN_ENV)
    if flag and not launched:
        missing = ", ".join(n for n in TORCHRUN_ENV if n not in os.environ)
        raise UsageError(
            f"--distributed, but {missing} not set: launch with "
            "'torchrun --nproc_per_node=N -m lrfind run ...'"
        )
    if timeout is None:
        timeout = DEFAULT_DIST_TIMEOUT_S
    elif not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"--dist-timeout {timeout!r}: must be a number of seconds > 0")
    return (launched if flag is None else flag), float(timeout)


class _Values:
    """Attribute access over a dict, so `check` can read unvalidated values."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)
