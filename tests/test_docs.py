"""The docs stay true to the code: their links resolve, and every lrfind command they show parses.

Parsing a command checks its command name and options against the CLI without
running it, so a renamed option cannot linger in a page. Running the commands
themselves is too slow for the suite; docs/development.md says how they were run.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
import typer

from lrfind.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def _commands() -> list[tuple[str, str]]:
    """(page, command line) for every `lrfind ...` line inside a fenced block."""
    found = []
    for page in PAGES:
        for block in FENCE.findall(page.read_text()):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("lrfind ") and "|" not in line and "[" not in line:
                    found.append((page.name, line.split("  #")[0].strip()))
    return found


def _slugs(path: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings."""
    out, seen = set(), {}
    for line in FENCE.sub("", path.read_text()).splitlines():
        if m := re.match(r"#{1,6} (.*)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_every_relative_link_resolves() -> None:
    bad = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", page.read_text())):
            if re.match(r"[a-z]+://", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            missing = anchor and dest.suffix == ".md" and anchor not in _slugs(dest)
            if not dest.exists() or missing:
                bad.append(f"{page.name}: {target}")
    assert bad == []


def test_the_docs_show_commands() -> None:
    assert len(_commands()) >= 20  # the parser below found the pages' commands


@pytest.mark.parametrize(("page", "line"), _commands())
def test_every_command_in_the_docs_parses(page: str, line: str) -> None:
    args = shlex.split(line.split(" > ")[0])[1:]
    group = typer.main.get_command(app)
    name = args[0] if args else ""
    if name.startswith("-"):  # lrfind --version and friends: options of the group itself
        assert name in {opt for p in group.params for opt in p.opts}, f"{page}: {line}"
        return
    command = group.get_command(group.context_class(group), name)  # type: ignore[attr-defined]
    assert command is not None, f"{page}: no command {name!r} in {line!r}"
    try:
        command.make_context(name, args[1:], resilient_parsing=False)
    except Exception as e:  # typer may use its own copy of click: match the classes by name
        if type(e).__name__ != "Exit":  # --help and --version end parsing with Exit
            pytest.fail(f"{page}: {line!r} does not parse: {e}")


def _documented(source: str) -> list[tuple[str, object]]:
    """(expression, the value its comment shows) for each example line `expr  # value...`;
    a comment of its own lines under an expression (a long dict) counts too."""
    import ast

    lines = source.splitlines()
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Expr) or node.end_lineno is None:
            continue
        last = lines[node.end_lineno - 1]
        comment = last.split("  # ", 1)[1] if "  # " in last else ""
        if not comment:  # the value on the comment lines below, e.g. "# {'a': 1,\n#  'b': 2}"
            below = itertools.takewhile(lambda s: s.startswith("#"), lines[node.end_lineno :])
            comment = " ".join(s[1:].strip() for s in below)
        for end in range(len(comment), 0, -1):  # the longest prefix that is a Python literal,
            rest = comment[end:]
            if rest and not rest.startswith((":", " (")):
                continue  # ... ending the comment or followed by ':' or ' (': not "90 points"
            try:
                value = ast.literal_eval(comment[:end])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
            found.append((ast.get_source_segment(source, node.value) or "", value))
            break
    return found


def _close(got: object, shown: object) -> bool:
    """`got` as the docs round it: numbers within 1% (they show 3 digits), the rest equal."""
    import math

    if isinstance(shown, float) and isinstance(got, int | float):
        return math.isclose(got, shown, rel_tol=0.01)
    if isinstance(shown, tuple | list) and isinstance(got, tuple | list):
        return len(got) == len(shown) and all(map(_close, got, shown))
    if isinstance(shown, dict) and isinstance(got, dict):
        return got.keys() == shown.keys() and all(_close(got[k], shown[k]) for k in shown)
    return got == shown


def test_the_python_api_example_runs_and_shows_its_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page's first two examples, run as a notebook user would, in an empty folder (the
    # outputs' folder does not exist yet); every value a comment shows is checked.
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python-api.md").read_text(), re.S)
    source = "\n".join(blocks[:2]).replace('"sample_models/', f'"{ROOT}/sample_models/')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(source, "docs/python-api.md", "exec"), namespace)
    checked = _documented(source)
    assert len(checked) >= 8, checked  # the page shows at least this many values
    for expression, shown in checked:
        got = eval(expression, namespace)
        assert _close(got, shown), f"{expression}: the docs show {shown!r}, it is {got!r}"
    assert (tmp_path / "lrfind-out" / "report.json").is_file()
