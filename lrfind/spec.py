"""Resolve a SPEC (`path/to/file.py:func` or `package.module:func`) and call it.

This runs the user's own code, as `python file.py` would; nothing else is
imported or executed. Every failure becomes a SpecError that names the file,
the function and the fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from lrfind.errors import SpecError, describe_exception


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a SPEC into (target, function name).

    >>> parse_spec("models/mlp.py:build")
    ('models/mlp.py', 'build')
    """
    target, sep, func = spec.rpartition(":")
    if not sep or not target or not func:
        raise SpecError(
            f"SPEC {spec!r} needs a function: use path/to/file.py:build or package.module:build"
        )
    if not func.isidentifier():
        raise SpecError(f"SPEC {spec!r}: {func!r} is not a valid function name")
    return target, func


def is_file_target(target: str) -> bool:
    """A target is a file path if it ends in .py or contains a path separator."""
    return target.endswith(".py") or "/" in target or os.sep in target


def check_spec(spec: str) -> None:
    """Raise SpecError for a SPEC that cannot load, as far as that shows without importing it.

    Cheap (no import of torch or of the user's code), so a mistyped SPEC is
    reported at once, before anything heavy loads.
    """
    target, _ = parse_spec(spec)
    if is_file_target(target):
        _check_file(target)


def load_function(spec: str) -> tuple[Callable[..., Any], str]:
    """Import the SPEC's module and return (function, a label for messages)."""
    target, name = parse_spec(spec)
    module = _import_file(target) if is_file_target(target) else _import_module(target)
    where = target
    func = getattr(module, name, None)
    if func is None:
        have = _public_callables(module)
        hint = f"it defines: {', '.join(have)}" if have else "it defines no public functions"
        raise SpecError(f"{where} has no function {name!r}; {hint}")
    if not callable(func):
        raise SpecError(f"{where}:{name} is a {type(func).__name__}, not a function")
    return func, f"{name}() in {where}"


def call_build(func: Callable[..., Any], label: str, kwargs: Mapping[str, Any]) -> object:
    """Call the user's build function with `kwargs`, explaining any mismatch."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins and some C callables have none
        signature = None
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as e:
            accepted = [p for p in signature.parameters if p not in ("self", "cls")]
            have = ", ".join(accepted) or "no arguments"
            raise SpecError(f"{label}: {e}; pass --arg key=value (it takes: {have})") from None
    try:
        return func(**kwargs)
    except Exception as e:
        raise SpecError(f"{label} raised {describe_exception(e)}") from e


def _check_file(target: str) -> Path:
    path = Path(target)
    if not path.exists():
        raise SpecError(
            f"{target} does not exist: check the path in the SPEC (relative to the cwd)"
        )
    if path.is_dir():
        raise SpecError(
            f"{target} is a directory: the SPEC needs a .py file, as in {target}/model.py:build"
        )
    return path


def _import_file(target: str) -> ModuleType:
    path = _check_file(target).resolve()
    # Like `python file.py`: the file's folder goes on sys.path, so its sibling
    # imports work, and the module gets its plain name, so DataLoader workers
    # started with "spawn" can import it again.
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem.isidentifier() else "lrfind_spec"
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) != str(path):
        name = f"lrfind_spec_{name}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise SpecError(f"{target} cannot be imported as Python: is it a .py file?")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[name]
        raise SpecError(
            f"{target}, line {e.lineno}: syntax error: {e.msg}; fix the file and run again"
        ) from e
    except Exception as e:
        del sys.modules[name]
        raise SpecError(f"importing {target} raised {describe_exception(e)}") from e
    return module


def _import_module(target: str) -> ModuleType:
    # Like `python -m`: the cwd is importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        if e.name and (target == e.name or target.startswith(e.name + ".")):
            what = repr(e.name) if e.name == target else f"{e.name!r} (for {target!r})"
            raise SpecError(
                f"no module named {what}: check the SPEC, or use path/to/file.py:build"
            ) from e
        raise SpecError(f"importing {target} raised {describe_exception(e)}") from e
    except SyntaxError as e:
        raise SpecError(f"{e.filename}, line {e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:
        raise SpecError(f"importing {target} raised {describe_exception(e)}") from e


def _public_callables(module: ModuleType) -> list[str]:
    """Names of the public functions and classes the module itself defines."""
    return sorted(
        name
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    )
