"""The `lrfind` command (Typer): parse, call, render; the only place that prints or exits.

app (the Typer app, its commands registered), console (consoles, the one
error renderer, the progress bar), run, schedule, tools (compare, show,
diagnose): one module per command family.
"""

from lrfind.cli.app import app, main

__all__ = ["app", "main"]
