"""FHIR R4 over HTTP: `GET /fhir/Patient/{id}/$everything` (the record as a Bundle) and
`POST /fhir` (a Bundle of medicines and conditions from an EHR into a record).

Signed in with the API's bearer token, decided by the same policy and audited like every
record route (`services.fhir`). Every error is a FHIR OperationOutcome, not a problem
details document: FHIR clients read OperationOutcome.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from lowdose.api.deps import BEARER, DB, Ctx
from lowdose.errors import InputError
from lowdose.interop.fhir import FHIR_JSON, issue, outcome
from lowdose.services import fhir
from lowdose.services.errors import Conflict, Forbidden, NotFound, Unauthenticated


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def operation_outcome(status: int, code: str, message: str, *, expression: str | None = None,
                      headers: dict[str, str] | None = None) -> FhirResponse:
    return FhirResponse(outcome([issue("error", code, message, expression)]),
                        status_code=status, headers=headers)


def _as_outcome(exc: Exception) -> FhirResponse:
    if isinstance(exc, InputError):
        return operation_outcome(422, "invalid", f"{exc.field}: {exc.message}",
                                 expression=exc.field)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        reason = ("is not valid JSON" if first.get("type") == "json_invalid"
                  else str(first.get("msg", "is not valid")))
        return operation_outcome(400, "structure", f"{where}: {reason}", expression=where)
    if isinstance(exc, Unauthenticated):
        return operation_outcome(401, "login", str(exc), headers=dict(BEARER))
    if isinstance(exc, Forbidden):
        return operation_outcome(403, "forbidden", str(exc))
    if isinstance(exc, NotFound):
        return operation_outcome(404, "not-found", str(exc))
    if isinstance(exc, Conflict):
        return operation_outcome(409, "conflict", str(exc))
    if isinstance(exc, HTTPException):
        return operation_outcome(exc.status_code, "processing",
                                 str(exc.detail or HTTPStatus(exc.status_code).phrase))
    raise exc


class FhirRoute(APIRoute):
    """Errors of a FHIR route, its dependencies (sign-in) included, as OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except (InputError, RequestValidationError, Unauthenticated, Forbidden, NotFound,
                    Conflict, HTTPException) as exc:
                return _as_outcome(exc)

        return handler


# FHIR has its own specification; the API's OpenAPI document (problem details, /api/v1) does
# not describe it.
router = APIRouter(prefix="/fhir", tags=["FHIR R4"], route_class=FhirRoute,
                   include_in_schema=False)
OUTCOMES: dict[int | str, dict[str, Any]] = {
    status: {"description": f"{HTTPStatus(status).phrase}: an OperationOutcome",
             "content": {FHIR_JSON: {}}}
    for status in (400, 401, 403, 404, 422)}


@router.get("/Patient/{patient_id}/$everything", response_class=FhirResponse,
            summary="The patient's record as a FHIR R4 searchset Bundle", responses=OUTCOMES)
def everything(request: Request, db: DB, ctx: Ctx, patient_id: int) -> FhirResponse:
    bundle = fhir.export_patient(db, ctx, patient_id, kind="searchset")
    # A searchset names the search it answers (R4 Bundle.link, relation self).
    bundle["link"] = [{"relation": "self", "url": str(request.url)}]
    return FhirResponse(_links_first(bundle))


def _links_first(bundle: dict[str, Any]) -> dict[str, Any]:
    """The Bundle with `link` before `entry`, in FHIR's element order, for people reading it."""
    return {k: bundle[k] for k in (*(k for k in bundle if k not in ("link", "entry")),
                                   "link", "entry") if k in bundle}


@router.post("", response_class=FhirResponse, responses=OUTCOMES,
             summary="Import a Bundle's medicines and conditions into a patient's record")
def import_bundle(db: DB, ctx: Ctx, bundle: Annotated[dict[str, Any], Body()],
                  patient: Annotated[int | None, Query(
                      description="The lowdose patient id; without it every entry's subject "
                                  "must be Patient/{id}")] = None) -> FhirResponse:
    report = fhir.import_bundle(db, ctx, bundle, patient)
    kind = "batch-response" if bundle.get("type") == "batch" else "transaction-response"
    return FhirResponse(response_bundle(report, kind))


def response_bundle(report: fhir.ImportReport,
                    kind: str = "transaction-response") -> dict[str, Any]:
    """The import's result, entry by entry, as a transaction-response Bundle (batch-response
    for a batch: R4 http.html#transaction-response answers each kind with its own)."""
    status = {"added": "201 Created", "unchanged": "200 OK", "skipped": "200 OK"}
    severity = {"added": "information", "unchanged": "information", "skipped": "warning"}
    entries = []
    for item in report.items:
        response: dict[str, Any] = {
            "status": status[item.outcome],
            "outcome": outcome([issue(severity[item.outcome], "informational",
                                      f"{item.outcome}: {item.message}",
                                      f"Bundle.entry[{item.index}]")])}
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
