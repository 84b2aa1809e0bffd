"""Reading settings from files and flags: TOML config files and `--arg key=value`.

Every problem is reported in the file's and the key's own words; all of a
file's problems together (accelerate and torchtune do the same).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrfind.config.names import unknown_names
from lrfind.config.paths import user_path
from lrfind.errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# [sweep] keys and the types a TOML value may have for each.
SWEEP_KEYS: dict[str, tuple[type, ...]] = {
    "start_lr": (int, float),
    "end_lr": (int, float),
    "steps": (int,),
    "mode": (str,),
    "smoothing": (int, float),
    "diverge_threshold": (int, float),
    "stop_k": (int, float),
    "stop_fraction": (int, float),
    "divisor": (int, float),
    "seed": (int,),
    "device": (str,),
    "method": (str,),
    "amp": (str,),
    "accumulate": (int,),
    "compile": (bool,),
    "channels_last": (bool,),
    "refine": (bool,),
    "repeats": (int,),
    "val_batches": (int,),
    "clip_grad": (int, float),
    "clip_mode": (str,),
}
OUTPUT_KEYS: dict[str, tuple[type, ...]] = {"out_dir": (str,), "plot": (bool,)}
TABLES = ("sweep", "optimizer", "build", "output")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a ConfigError that names it."""
    p = user_path(path)
    # Not is_file(): `--config <(generate-config)` is a pipe, and a pipe reads as well.
    if p.is_dir() or not p.exists():
        what = "is a directory" if p.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}: pass an existing .toml file to --config")
    try:
        data = p.read_bytes()
        # Windows editors may save a byte-order mark, which TOML (and tomllib) reject.
        return tomllib.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise ConfigError(f"config file {path} is nested too deeply to read") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text: save it as UTF-8") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"config file {path} cannot be read: {e}") from None


def parse_config(doc: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Check a parsed config's keys and types; return its settings, flat.

    Returns a dict with SweepConfig field names, "out_dir", "plot", "spec" and
    "build_kwargs" where the file sets them. All problems are reported together.
    """
    flat, problems = read_config(doc, label)
    if problems:
        raise ConfigError(problems)
    return flat


def read_config(doc: Mapping[str, Any], label: str) -> tuple[dict[str, Any], list[str]]:
    """parse_config's settings (the well-typed ones) and its problems, without raising.

    `lrfind run` checks the settings' values too before it reports, so that a
    file's unknown keys, wrong types and bad values all come in one message.
    """
    problems: list[str] = []
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "spec":
            if isinstance(value, str):
                flat["spec"] = value
            else:
                problems.append(f"{label}: spec must be a string like 'model.py:build'")
        elif key not in TABLES:
            problems.append(
                f"{label}: unknown key '{key}' (allowed: spec, [{'], ['.join(TABLES)}])"
            )
        elif not isinstance(value, dict):
            problems.append(f"{label}: '{key}' must be a table, [{key}]")
        elif key in ("sweep", "output"):
            allowed = SWEEP_KEYS if key == "sweep" else OUTPUT_KEYS
            problems += _typed_table(label, key, value, allowed, flat)
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
    return flat, problems


def _typed_table(
    label: str,
    table: str,
    values: Mapping[str, Any],
    allowed: Mapping[str, tuple[type, ...]],
    flat: dict[str, Any],
) -> list[str]:
    """Copy a table's known, well-typed keys into `flat`; return its problems."""
    problems = []
    for k, v in values.items():
        if k not in allowed:
            (named,) = unknown_names([k], allowed)
            listed = "" if named.endswith(")") else f" (allowed: {', '.join(allowed)})"
            problems.append(f"{label}: unknown key {named} in [{table}]{listed}")
        elif not isinstance(v, allowed[k]) or (isinstance(v, bool) and bool not in allowed[k]):
            want = " or ".join(t.__name__ for t in allowed[k])
            problems.append(f"{label}: [{table}] {k} = {v!r} has the wrong type: expected {want}")
        elif isinstance(v, str) and not v.strip():  # would silently mean the default
            problems.append(f"{label}: [{table}] {k} is empty: give a value, or remove the key")
        else:
            flat[k] = v
    return problems


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
        out[key] = _literal(raw.strip(), key)
    return out


def _literal(raw: str, key: str = "value") -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
    except RecursionError:  # tomllib recurses into nested arrays
        raise UsageError(f"--arg {key}=...: the value is nested too deeply to read") from None
