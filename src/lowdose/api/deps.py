"""What the record routes need from the app: its database, the signed-in actor and the request
`Context`; and the use-case errors answered as problem details.

The database is opened and migrated when the app starts (its lifespan), so a fresh data dir
or an older schema is ready before the first request.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from math import ceil
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import OperationalError

from lowdose.api.problems import ProblemResponse, problem
from lowdose.security.policy import Actor
from lowdose.services import accounts
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, Forbidden, NotFound, Unauthenticated
from lowdose.settings import Settings
from lowdose.store import Database, migrate

BEARER = {"WWW-Authenticate": "Bearer"}
bearer_token = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open and migrate the settings' database for the app's lifetime."""
    settings: Settings = app.state.settings
    url = settings.resolved_database_url
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(url)
    app.state.db = Database(url)
    app.state.db.refresh_statistics()
    # What start-up loaded (the app and its modules) lives as long as the process: moved
    # out of the collector's reach, it is not walked again on every collection, which cost
    # a warm report request ~57 ms of CPU. Garbage is collected first so none is kept.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # an app started in a longer-lived process (tests) leaves no leak
        app.state.db.dispose()


def now() -> datetime:
    """The real clock, read at the interface only (core and services take it as an argument)."""
    return datetime.now(UTC)


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, a hop that costs more than the dependency itself.
async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def current_actor(request: Request, db: Annotated[Database, Depends(database)],
                  token: Annotated[str | None, Depends(bearer_token)]) -> Actor:
    """The actor behind the bearer token; 401 without one or with a bad one."""
    if not token:
        raise Unauthenticated("sign in first: send an `Authorization: Bearer` token")
    return accounts.authenticate_token(db, token, now=now(), kind="api")


async def context(request: Request,
                  actor: Annotated[Actor, Depends(current_actor)]) -> Context:
    return Context(actor=actor, now=now(), source=source_of(request))


DB = Annotated[Database, Depends(database)]
Ctx = Annotated[Context, Depends(context)]


# ------------------------------------------------------------------------------- errors


async def _on_not_found(request: Request, exc: Exception) -> ProblemResponse:
    return problem(request, 404, str(exc))


async def _on_forbidden(request: Request, exc: Exception) -> ProblemResponse:
    return problem(request, 403, str(exc))


async def _on_conflict(request: Request, exc: Exception) -> ProblemResponse:
    return problem(request, 409, str(exc))


async def _on_unauthenticated(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, Unauthenticated)
    headers = dict(BEARER)
    if exc.locked_until is not None:
        wait = (exc.locked_until - now().replace(tzinfo=None)).total_seconds()
        headers["Retry-After"] = str(max(1, ceil(wait)))
    return problem(request, 401, str(exc), headers=headers)


# SQLite's words when its file cannot grow (the disk, or the database's page limit, is full).
_FULL = ("database or disk is full", "disk i/o error")


async def _on_database_error(request: Request, exc: Exception) -> ProblemResponse:
    # The transaction was rolled back, so nothing of the request is stored; say so, and
    # whether retrying soon can help. The statement and its parameters (patient data) stay
    # out of the answer.
    assert isinstance(exc, OperationalError)
    reason = str(exc.orig).lower()
    if any(words in reason for words in _FULL):
        return problem(request, 507, "The server cannot store data right now (its storage is "
                                     "full or failing); nothing of this request was stored. "
                                     "Please tell the clinic's administrator.")
    return problem(request, 503, "The database is unavailable for a moment; nothing of this "
                                 "request was stored. Please retry.",
                   headers={"Retry-After": "1"})


def install(app: FastAPI) -> None:
    """Answer the use-case errors with their HTTP status as problem details."""
    app.add_exception_handler(OperationalError, _on_database_error)
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(Forbidden, _on_forbidden)
    app.add_exception_handler(Conflict, _on_conflict)
    app.add_exception_handler(Unauthenticated, _on_unauthenticated)
