"""The `lowdose` command line (design §3.3).

Commands parse, call one core function and render; `--json` prints exactly the contract dict.
Exit codes: 0 done, 1 bad input (the message names the option or JSON field, on stderr),
2 usage (Typer's own). Command modules import only Typer and the standard library at top
level; Pydantic, Rich, FastAPI and uvicorn are imported inside the command that needs them,
so `lowdose screen` starts fast (design §4).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lowdose.cli import analyze, calendar, interop, knowledge, ops, regimens, screen, serve
from lowdose.cli import migrate as migrate_command
from lowdose.cli import reports as report_commands
from lowdose.cli.inputs import InputProblems
from lowdose.errors import InputError

app = typer.Typer(
    name="lowdose",
    help="lowdose: decision support for low-dose naltrexone. It supports decisions; it does "
         "not make them.",
    no_args_is_help=True,
    add_completion=False,
    # Bad input never reaches a traceback (main() reports it); what remains is a bug, and a
    # plain traceback is the clearest report of one.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("screen")(screen.screen)
app.command("plan")(regimens.plan)
app.command("formulate")(regimens.formulate)
app.command("periop")(regimens.periop)
analyze.register(app)
app.command("knowledge")(knowledge.knowledge)
app.command("serve")(serve.serve)
app.command("migrate")(migrate_command.migrate)
ops.register(app)
app.command("report")(report_commands.report)
app.add_typer(report_commands.diary_app, name="diary")
interop.register(app)
app.command("calendar")(calendar.calendar)


@app.command()
def version(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
            ) -> None:
    """Print the lowdose version."""
    import json

    from lowdose import __version__

    typer.echo(json.dumps({"version": __version__}) if json_output else __version__)


def main() -> None:
    try:
        app()
    except InputError as exc:
        _fail([(exc.field, exc.message)])
    except InputProblems as exc:
        _fail(exc.problems)
    except OverflowError:
        # Only extreme input gets date arithmetic past year 9999 (or before year 1).
        _fail([("input", "a date, or a number of days or hours, is so large that the result "
                         "falls outside the calendar (years 1–9999)")])


def _fail(problems: list[tuple[str, str]]) -> None:
    for field, message in problems:
        sys.stderr.write(f"error: {field}: {message}\n")
    sys.exit(1)
