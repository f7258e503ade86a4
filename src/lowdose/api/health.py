"""Readiness for load balancers and orchestrators.

`GET /api/v1/health` (in `clinical.py`) says the process answers: liveness, restart it when
this fails. `GET /api/v1/ready` says it can serve the record: the database answers and its
schema is at the revision this version of lowdose was built for. Until both hold it answers
503, so a proxy sends traffic elsewhere, e.g. while another worker is still migrating.
"""

from __future__ import annotations

from functools import cache

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from lowdose import __version__
from lowdose.api.problems import ProblemResponse, documented, problem
from lowdose.store import Database
from lowdose.store.migrate import head_revision

router = APIRouter(prefix="/api/v1")


class Readiness(BaseModel):
    status: str
    database: str
    revision: str
    version: str


@cache
def expected_revision() -> str:
    # The shipped migrations do not change while the process runs.
    return head_revision()


@router.get("/ready", tags=["meta"], summary="Can this server serve the record?",
            response_model=Readiness, responses=documented(503))
def ready(request: Request) -> JSONResponse | ProblemResponse:
    """200 when the database answers and its schema is current; 503 problem details saying
    which of the two is not the case otherwise."""
    db: Database = request.app.state.db
    backend = db.url.get_backend_name()
    try:
        with db.engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError:
        return problem(request, 503, f"The {backend} database cannot be reached.")
    wanted = expected_revision()
    if revision != wanted:
        return problem(request, 503, f"The database schema is at revision {revision or 'none'}"
                                     f"; this version of lowdose needs {wanted}: run "
                                     "`lowdose migrate` or restart a worker to migrate.")
    return JSONResponse({"status": "ready", "database": backend, "revision": revision,
                         "version": __version__})
