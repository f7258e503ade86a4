"""`lowdose serve`: the HTTP API (and, later, the web app) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database_url: Annotated[str | None, typer.Option(
        help="Database URL [default: LOWDOSE_DATABASE_URL, else SQLite in the data dir].")
    ] = None,
) -> None:
    """Serve the API on http://HOST:PORT (docs at /api/v1/docs)."""
    import uvicorn

    from lowdose.api.app import create_app
    from lowdose.cli.settings import load_settings
    from lowdose.store.migrate import migrate

    settings = load_settings()
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url or None})
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Every worker starts on the schema this version expects (migrate is safe to race).
    migrate(settings.resolved_database_url)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
