"""`lowdose migrate`: bring the database schema up to this version before workers start.

`lowdose serve` and every worker migrate on start anyway (they take turns); this command is for
deployments that upgrade in a separate step, e.g. a release job before rolling the workers.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lowdose.cli.ops import DatabaseUrl, database_url


def migrate(
    database: DatabaseUrl = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Migrate the database to the schema this version of lowdose needs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from lowdose.errors import InputError
    from lowdose.store.migrate import current_revision, head_revision
    from lowdose.store.migrate import migrate as run_migrations

    url = database_url(database)
    backend = make_url(url).get_backend_name()
    try:
        before = current_revision(url)
        run_migrations(url)
    except SQLAlchemyError as error:
        # The driver's message names the host or file, not data: nothing is stored yet.
        raise InputError("database", f"cannot migrate the {backend} database: "
                                     f"{type(getattr(error, 'orig', None) or error).__name__}"
                         ) from None
    result = {"database": backend, "from": before, "to": head_revision()}
    if json_out:
        typer.echo(json.dumps(result))
        return
    if before == result["to"]:
        typer.echo(f"The {backend} database is already at revision {before}.")
    else:
        typer.echo(f"Migrated the {backend} database from revision {before or 'none'} to "
                   f"{result['to']}.")
