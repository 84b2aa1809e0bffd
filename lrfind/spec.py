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
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from lrfind.config.paths import user_path
from lrfind.errors import LrfindError, SpecError, ended, exception_text, user_code
from lrfind.script import held_stderr, script_argv

#: The module name a SPEC file gets when its own name is no identifier (my-model.py).
SYNTHETIC_MODULE = "lrfind_spec"
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


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
    if not all(part.isidentifier() for part in func.split(".")):  # Factory.build is one
        raise SpecError(f"SPEC {spec!r}: {func!r} is not a valid function name")
    if ":" in _DRIVE.sub("", target, count=1):  # a Windows drive ("C:\\...") is allowed
        raise SpecError(
            f"SPEC {spec!r} has more than one ':': use path/to/file.py:build or "
            "package.module:build"
        )
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
    # Only what the file defines (or imports): a module's own dunders (__init__, __class__)
    # are no build function.
    first, *rest = name.split(".")
    func = vars(module).get(first) if first.startswith("__") else getattr(module, first, None)
    if func is None:
        have = _public_callables(module)
        hint = f"it defines: {', '.join(have)}" if have else "it defines no public functions"
        raise SpecError(f"{where} has no function {first!r}; {hint}")
    for i, attribute in enumerate(rest):  # an entry point's obj.attr: Factory.build
        owner = ".".join([first, *rest[:i]])
        try:
            func = getattr(func, attribute)
        except AttributeError:
            raise SpecError(
                f"{where}:{owner} has no attribute {attribute!r}; check the SPEC"
            ) from None
        except Exception as error:  # a property of the user's that raises
            raise SpecError(
                f"{where}:{owner}.{attribute} raised {type(error).__name__}: {error}"
            ) from error
    fix = "point the SPEC at a function that returns (model, train_loader, loss_fn)"
    if not callable(func):
        raise SpecError(f"{where}:{name} is a {type(func).__name__}, not a function: {fix}")
    if not inspect.isclass(func) and hasattr(func, "forward") and hasattr(func, "parameters"):
        # A model instance is callable, and calling it runs forward() with no input.
        raise SpecError(
            f"{where}:{name} is a {type(func).__name__} (a model), not a function: {fix}"
        )
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
            raise SpecError(
                f"{label}: {e}; pass --arg key=value (it takes: {have})", setting="build_kwargs"
            ) from None
    script = getattr(sys.modules.get(getattr(func, "__module__", "")), "__file__", None)
    with script_argv(script or label), user_code(label, SpecError):
        return func(**kwargs)


def _check_file(target: str) -> Path:
    path = user_path(target)  # "~/model.py:build", quoted, is the home folder's
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
    name = path.stem if path.stem.isidentifier() else SYNTHETIC_MODULE
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) != str(path):
        name = f"lrfind_spec_{name}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise SpecError(f"{target} cannot be imported as Python: is it a .py file?")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        _run_import(target, str(path), lambda: module_spec.loader.exec_module(module))
    except SpecError as error:
        del sys.modules[name]
        package = _package_name(path)
        if package and _NO_PARENT in exception_text(error.__cause__ or error):
            # Its relative imports (from .data import ...) need its package, as
            # `python -m package.module` would give it.
            return _import_module(package, root=_package_root(path))
        raise
    except BaseException:
        del sys.modules[name]
        raise
    return module


_NO_PARENT = "attempted relative import with no known parent package"


def _package_root(path: Path) -> Path:
    """The folder above the outermost package (folder with __init__.py) holding `path`."""
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        folder = folder.parent
    return folder


def _package_name(path: Path) -> str | None:
    """mypkg.sub.train for mypkg/sub/train.py inside packages; None outside one."""
    root = _package_root(path)
    if root == path.parent or not path.stem.isidentifier():
        return None
    return ".".join([*path.parent.relative_to(root).parts, path.stem])


def _import_module(target: str, root: Path | None = None) -> ModuleType:
    # Like `python -m`: the cwd (or the package's root folder) is importable.
    if root is not None:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    elif "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return _run_import(target, target, lambda: importlib.import_module(target))
    except SpecError as error:
        e = error.__cause__
        name = e.name if isinstance(e, ModuleNotFoundError) else None
        if name and (target == name or target.startswith(name + ".")):
            what = repr(name) if name == target else f"{name!r} (for {target!r})"
            fix = "check the SPEC, or use path/to/file.py:build"
            if user_path(target).is_file():  # "data.txt:build": a file, but not Python's
                fix = f"{target} is a file, but a SPEC names a Python file ending in .py"
            raise SpecError(f"no module named {what}: {fix}") from e
        raise


def _run_import(target: str, argv0: str, run: Callable[[], Any]) -> Any:
    """Import the user's module as `python file.py` would run it, every failure a SpecError.

    sys.argv is what the file's own script would see (its path alone), so a
    parser at module level takes its defaults instead of lrfind's options;
    SystemExit and any other BaseException are errors, never lrfind's exit.
    """
    with script_argv(argv0), held_stderr() as held:
        try:
            return run()
        except SyntaxError as e:  # its line is in the file itself, not in a frame
            where = target if e.filename in (None, argv0) else e.filename
            raise SpecError(
                f"{where}, line {e.lineno}: syntax error: {e.msg}; fix the file and run again"
            ) from e
        except (KeyboardInterrupt, LrfindError):
            raise
        except BaseException as e:
            raise SpecError(f"importing {target} {ended(e)}{held.argparse(e)}") from e


def _public_callables(module: ModuleType) -> list[str]:
    """Names of the public functions and classes the module itself defines."""
    return sorted(
        name
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    )
