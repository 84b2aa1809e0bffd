"""The docs stay true to the code: their links resolve, and every lrfind command they show parses.

Parsing a command checks its command name and options against the CLI without
running it, so a renamed option cannot linger in a page. Running the commands
themselves is too slow for the suite; docs/development.md says how they were run.
"""

from __future__ import annotations

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
