"""The `lrfind` Typer app: its commands, the version flag, usage errors in two lines.

A leaf of the CLI: it imports the commands (lrfind.cli.run, .schedule, .tools)
and registers them, each with its own examples; nothing imports it but
lrfind.cli and the tests.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lrfind._version import __version__
from lrfind.cli.run import EXAMPLES as RUN_EXAMPLES
from lrfind.cli.run import run
from lrfind.cli.schedule import EXAMPLES as SCHEDULE_EXAMPLES
from lrfind.cli.schedule import schedule
from lrfind.cli.streams import StdoutLost, own_process
from lrfind.cli.tools import (
    COMPARE_EXAMPLES,
    DIAGNOSE_EXAMPLES,
    SHOW_EXAMPLES,
    compare,
    diagnose,
    show,
)
from lrfind.errors import describe_exception

EXAMPLES = """
Examples:

  lrfind run sample_models/digits_mlp.py:build

  lrfind run model.py:build --json > lr.json

  lrfind schedule onecycle cosine --lr 0.1 --steps 1000

  lrfind compare base/report.json new/report.json

  lrfind show lrfind-out/report.json

  lrfind COMMAND --help shows each command's options and examples.
"""

# click's exception base, found through typer so that this works with typer's
# vendored click and with the standalone click that older typer versions use.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class _Group(TyperGroup):
    """Usage errors in two lines ("Error: ...", where to get help), not click's usage block.

    Also the last resort of every command: results that cannot reach stdout,
    and any exception nothing else turned into lrfind's words, end in one
    line and exit 1; --debug keeps the traceback.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        argv = kwargs.get("args", args[0] if args else None)
        debug = "--debug" in (sys.argv[1:] if argv is None else list(argv))
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except StdoutLost as e:
            message = e.message()
            if message:
                sys.stderr.write(f"Error: {message}\n")
            sys.exit(1)
        except _ClickException as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `lrfind`: the help, as click does
                sys.stderr.write(e.format_message() + "\n")  # type: ignore[attr-defined]
                sys.exit(2)
            ctx = getattr(e, "ctx", None)
            where = ctx.command_path if ctx is not None else "lrfind"
            message = e.format_message()  # type: ignore[attr-defined]
            sys.stderr.write(f"Error: {message}\nRun '{where} --help' for the options.\n")
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        except typer.Abort:
            sys.exit(130)
        except Exception as e:  # a case lrfind does not know yet: one line, unless --debug
            if debug:
                raise
            sys.stderr.write(
                f"Error: lrfind failed unexpectedly: {describe_exception(e)} "
                "(--debug shows the traceback; please report it)\n"
            )
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="lrfind",
    help="Find a good learning rate for a PyTorch model with an LR range test.",
    epilog=EXAMPLES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lrfind {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Find a good learning rate for a PyTorch model with an LR range test."""


app.command(epilog=RUN_EXAMPLES)(run)
app.command(epilog=SCHEDULE_EXAMPLES)(schedule)
app.command(epilog=COMPARE_EXAMPLES)(compare)
app.command(epilog=SHOW_EXAMPLES)(show)
app.command(epilog=DIAGNOSE_EXAMPLES)(diagnose)


def main() -> None:
    """Console-script entry point (and `python -m lrfind`)."""
    own_process()
    app()
