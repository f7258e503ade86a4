"""The `lowdose` command line (design §3.3)."""

import typer

app = typer.Typer(help="lowdose: decision support for low-dose naltrexone.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the lowdose version."""
    from lowdose import __version__

    typer.echo(__version__)


def main() -> None:
    app()
