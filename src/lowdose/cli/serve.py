"""`lowdose serve`: the HTTP API (and, later, the web app) under uvicorn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import socket

    import uvicorn


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    database_url: Annotated[str | None, typer.Option(
        help="Database URL [default: LOWDOSE_DATABASE_URL, else SQLite in the data dir].")
    ] = None,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes (each with its own connections; state is in the "
                            "database, so any worker may answer any request).")] = 1,
    limit_concurrency: Annotated[int, typer.Option(
        min=1, help="Open connections and requests a worker takes before it answers 503: "
                    "under overload it sheds requests instead of queueing work whose "
                    "clients have given up.")] = 256,
) -> None:
    """Serve the API on http://HOST:PORT (docs at /api/v1/docs)."""
    import os

    import uvicorn

    from lowdose import logs
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
              "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips,
              "limit_concurrency": limit_concurrency}
    if workers > 1:
        # Worker processes import the app by name and read the same settings from the
        # environment (lowdose.asgi), so a --database-url given here is passed on.
        os.environ["LOWDOSE_DATABASE_URL"] = settings.resolved_database_url
        logs.configure(settings)
        _run_workers(uvicorn.Config("lowdose.asgi:app", workers=workers, **server))
        return
    # Only a single worker builds the app in this process: a supervisor of several does not
    # serve, so it need not hold the app's modules in memory.
    from lowdose.api.app import create_app

    logs.configure(settings)
    uvicorn.run(create_app(settings), **server)


def _run_workers(config: uvicorn.Config) -> None:
    """uvicorn's supervisor of several workers, on a listening socket from `tcp_listener`."""
    import contextlib

    from uvicorn.supervisors import Multiprocess

    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[tcp_listener(config)]).run()


def tcp_listener(config: uvicorn.Config) -> socket.socket:
    """The socket uvicorn binds for its workers, marked as TCP. uvicorn leaves its protocol at
    0, connections accepted from it inherit that, and asyncio then leaves Nagle's algorithm on:
    every keep-alive request after a connection's first waited ~40 ms for the client's delayed
    ACK (uvicorn issue #3149). The workers inherit the socket with its protocol."""
    import socket

    bound = config.bind_socket()
    listener = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP,
                             fileno=bound.detach())
    listener.set_inheritable(True)
    return listener
