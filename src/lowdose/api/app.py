"""The FastAPI application: `/api/v1/...`, OpenAPI at `/api/v1/openapi.json`, problem details
for every error. Other parts add their routers with `app.include_router(...)`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lowdose import __version__, web
from lowdose.api import (
    auth,
    calendar,
    cdshooks,
    clinical,
    deps,
    fhir,
    health,
    middleware,
    outcomes,
    problems,
    records,
    reports,
    supplies,
)
from lowdose.settings import Settings, get_settings
from lowdose.web import learn as web_learn

DESCRIPTION = """Decision support for low-dose naltrexone (LDN): safety screen, titration
plans, formulation math and the pre-operative hold. Every result cites its sources.
lowdose supports decisions; it does not make them.

Errors are RFC 9457 problem details (`application/problem+json`)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    docs = settings.docs_enabled  # Swagger UI: off in production unless asked for
    app = FastAPI(
        title="lowdose",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs" if docs else None,
        swagger_ui_oauth2_redirect_url="/api/v1/docs/oauth2-redirect" if docs else None,
        redoc_url=None,
        lifespan=deps.lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    deps.install(app)
    # Routes are matched in order: the EHR's calls, which must be quick, are looked up first.
    app.include_router(cdshooks.router)
    app.include_router(clinical.router)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(records.router)
    app.include_router(outcomes.router)
    app.include_router(reports.router)
    app.include_router(calendar.router)
    app.include_router(supplies.router)
    app.include_router(fhir.router)
    app.include_router(web_learn.router)  # the cited LDN guide, public, under /learn
    app.include_router(web.router)  # the web app, from `/`
    middleware.install(app, settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        app.openapi_schema = problems.problem_media_types(schema)
    return app.openapi_schema
