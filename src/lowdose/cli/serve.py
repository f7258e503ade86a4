"""`lowdose serve`: the HTTP API (and, later, the web app) under uvicorn."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database_url: Annotated[str | None, typer.Option(
        help="Database URL [default: LOWDOSE_DATABASE_URL, else SQLite in the data dir].")
    ] = None,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes (each with its own connections; state is in the "
                            "database, so any worker may answer any request).")] = 1,
) -> None:
    """Serve the API on http://HOST:PORT (docs at /api/v1/docs)."""
    import os

    import uvicorn

    from lowdose import logs
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
    # lowdose's request log (route templates, no query strings) replaces uvicorn's access log;
    # X-Forwarded-For/-Proto are believed from LOWDOSE_FORWARDED_ALLOW_IPS only.
    server: dict[str, Any] = {"host": host, "port": port, "log_config": None, "access_log": False,
              "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}
    if workers > 1:
        # Worker processes import the app by name and read the same settings from the
        # environment (lowdose.asgi), so a --database-url given here is passed on.
        os.environ["LOWDOSE_DATABASE_URL"] = settings.resolved_database_url
        logs.configure(settings)
        uvicorn.run("lowdose.asgi:app", workers=workers, **server)
        return
    logs.configure(settings)
    uvicorn.run(create_app(settings), **server)
