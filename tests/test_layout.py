"""The architecture holds: torch stays in its rooms, and no module imports in a circle.

Both are checked on the source itself, so the rules cannot rot as the code grows.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import lrfind

PACKAGE = Path(lrfind.__file__).parent

# Each torch-free part of the package, and what else must stay unloaded when it is imported.
TORCH_FREE = {
    "lrfind.config": ("torch", "numpy", "matplotlib", "rich"),
    "lrfind.core": ("torch", "matplotlib", "rich"),
    "lrfind.output": ("torch",),
    "lrfind.tools": ("torch",),
    "lrfind.cli": ("torch", "numpy", "matplotlib"),
    "lrfind.errors": ("torch", "numpy", "matplotlib", "rich"),
    "lrfind.spec": ("torch", "numpy", "matplotlib", "rich"),
    "lrfind.script": ("torch", "numpy", "matplotlib", "rich"),
    "lrfind.sweep.signals": ("torch", "numpy", "matplotlib", "rich"),
    "lrfind.pipeline": ("torch", "numpy", "matplotlib"),
}


def _modules(package: str) -> list[str]:
    """The package and every module under it (or just the module)."""
    module = __import__(package, fromlist=["_"])
    if not hasattr(module, "__path__"):
        return [package]
    found = pkgutil.walk_packages(module.__path__, prefix=f"{package}.")
    return [package, *(m.name for m in found)]


@pytest.mark.parametrize("package", sorted(TORCH_FREE))
def test_a_torch_free_part_imports_without_torch(package: str) -> None:
    # A fresh process: this one has torch loaded by other tests already.
    names = _modules(package)
    forbidden = TORCH_FREE[package]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in {forbidden!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"{package} loaded {out.stdout.strip()}"


def test_torch_is_imported_only_in_its_rooms() -> None:
    """At module level, only sweep/ and distributed/ import torch (tools/schedule inside a call)."""
    allowed = ("lrfind.sweep", "lrfind.distributed")
    offenders = []
    for name, tree in _sources().items():
        for node in tree.body:  # module level only: lazy imports inside functions are the point
            for imported in _imported(node, name):
                if imported.split(".")[0] == "torch" and not name.startswith(allowed):
                    offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_no_import_cycles() -> None:
    """Every lrfind import counts: module level, inside functions, under TYPE_CHECKING."""
    graph = {name: set() for name in _sources()}
    for name, tree in _sources().items():
        for node in ast.walk(tree):
            for imported in _imported(node, name):
                target = _lrfind_module(imported, graph)
                if target is not None and target != name:
                    graph[name].add(target)
    cycles = _cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_is_a_monolith() -> None:
    long = {
        name: n
        for name, path in _paths().items()
        if (n := len(path.read_text().splitlines())) > 260
    }
    assert long == {}


def _paths() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _sources() -> dict[str, ast.Module]:
    return {name: ast.parse(path.read_text()) for name, path in _paths().items()}


def _imported(node: ast.AST, module: str) -> list[str]:
    """The full names a node imports (`from a import b` gives a.b and a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = module.split(".")[: -node.level] if not module.endswith("__init__") else []
            base = ".".join([*package, base]) if base else ".".join(package)
        return [f"{base}.{alias.name}" for alias in node.names] + [base]
    return []


def _lrfind_module(name: str, graph: dict[str, set[str]]) -> str | None:
    """The lrfind module `name` refers to: itself, or its longest known prefix."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in graph:
            return candidate
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (each reported once, from its first node)."""
    found, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif state[nxt] == 0:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node)
    return found


def test_the_layout_page_names_every_module() -> None:
    # docs/development.md is the newcomer's map of the package: a module it does not
    # name is a room nobody was told about. Each appears in backticks, by its name or stem.
    page = (PACKAGE.parent / "docs" / "development.md").read_text(encoding="utf-8")
    table = page[page.index("## The layout") : page.index("**The import rule.**")]
    missing = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
        and f"`{path.stem}`" not in table
        and f"`{path.name}`" not in table
    )
    assert not missing, f"docs/development.md's layout table does not name: {missing}"
