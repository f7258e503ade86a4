"""CDS Hooks 2.0 over HTTP: discovery `GET /cds-services` and the LDN safety service
`POST /cds-services/ldn-safety` (order-select and order-sign; `ldn-safety-sign` is the same
service listed under order-sign, since discovery gives each service one hook).

These routes do not take the API's bearer tokens: every call, discovery included, carries an
EHR client's signed JWT (see `interop.cds_auth` and `services.cdshooks` for the allow-list).
Errors are problem details: 401 for a refused token, 400 for a malformed request, 412 when the
service cannot get the data it needs.

CORS is open (interop-notes §2.6: browser-based CDS clients need it): every answer allows any
origin, and a preflight `OPTIONS` is answered without a token (it carries none). That gives a
page nothing a token would not: the JWT, never a cookie, is what lets a caller in.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from lowdose.api.deps import BEARER, now, source_of
from lowdose.api.problems import documented
from lowdose.errors import InputError
from lowdose.interop import cdshooks as hooks
from lowdose.interop.cds_auth import CdsAuthError
from lowdose.services import cdshooks
from lowdose.settings import Settings

# CDS Hooks describes itself (discovery); the API's OpenAPI document does not cover it.
router = APIRouter(prefix="/cds-services", tags=["CDS Hooks"], include_in_schema=False)
ANSWERS = documented(400, 401, 412)
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {**CORS, "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
             "Access-Control-Allow-Headers": "Authorization, Content-Type",
             "Access-Control-Max-Age": "600"}


async def _authenticate(request: Request, service: str) -> None:
    settings: Settings = request.app.state.settings
    clients = cdshooks.load_clients(settings.data_dir / cdshooks.CLIENTS_FILE)
    path = request.url.path
    audience = (clients.base_url + path) if clients.base_url else str(request.url.replace(
        query=None, fragment=None))
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    try:
        await cdshooks.authenticate(
            request.app.state.db, token.strip() if scheme.lower() == "bearer" else None,
            audience=audience, clients=clients, now=now(), service=service,
            source=source_of(request))
    except CdsAuthError as exc:
        raise HTTPException(401, str(exc), headers={**BEARER, **CORS}) from None


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=PREFLIGHT)


# Plain routes, like CORS middleware answering before routing: a preflight is no API call (it
# reads and changes nothing, and no caller is known), so it has no place in the route walks.
for _path in ("", "/{service_id}"):
    router.add_route(router.prefix + _path, preflight, methods=["OPTIONS"],
                     include_in_schema=False)


@router.get("", summary="CDS Hooks discovery", responses=ANSWERS)
async def discovery(request: Request) -> JSONResponse:
    await _authenticate(request, "discovery")
    return JSONResponse(hooks.discovery(), headers=CORS)


# The work runs in the event loop (a fraction of a millisecond of CPU): a thread per call cost
# more in hand-offs and GIL contention. What waits (the replay table's write, fetching from the
# EHR's FHIR server) runs in a thread.
async def _call(request: Request, service: str) -> JSONResponse:
    await _authenticate(request, service)  # before reading the body: strangers learn nothing
    try:
        parsed = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "the request body is not JSON", headers=CORS) from None
    settings: Settings = request.app.state.settings
    server = parsed.get("fhirServer") if isinstance(parsed, dict) else None
    if (settings.mode == "production" and isinstance(server, str)
            and not server.lower().startswith("https://")):
        # The EHR's access token would travel in the clear (interop-notes §2.4: fhirServer is
        # https in production).
        raise HTTPException(400, "fhirServer: must be an https URL", headers=CORS)
    try:
        return JSONResponse(await cdshooks.answer(parsed, now=now()), headers=CORS)
    except cdshooks.PrefetchUnavailable as exc:
        raise HTTPException(412, str(exc), headers=CORS) from None
    except InputError as exc:
        raise HTTPException(400, f"{exc.field}: {exc.message}", headers=CORS) from None


HOOK_REQUEST = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "A CDS Hooks 2.0 request"}}}}}


@router.post("/" + hooks.SERVICE_ID, summary="LDN safety screen (order-select, order-sign)",
             responses=ANSWERS, openapi_extra=HOOK_REQUEST)
async def ldn_safety(request: Request) -> JSONResponse:
    return await _call(request, hooks.SERVICE_ID)


@router.post("/" + hooks.SIGN_SERVICE_ID, summary="LDN safety screen at signing (order-sign)",
             responses=ANSWERS, openapi_extra=HOOK_REQUEST)
async def ldn_safety_sign(request: Request) -> JSONResponse:
    return await _call(request, hooks.SIGN_SERVICE_ID)
