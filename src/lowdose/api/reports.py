"""The visit report PDF and the diary as CSV (export and all-or-nothing import).

The PDF and CSV routes are plain functions (FastAPI runs them in its thread pool, so drawing a
report never blocks the event loop). The import takes the file as multipart form data (`file`,
and optionally `mapping` as JSON text) or, for scripts, as JSON `{"csv": "...", "mapping":
{...}}`; a rejected file is a 422 problem whose `errors` carry each line number.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import INVALID_INPUT, ProblemResponse, documented, problem
from lowdose.errors import InputError
from lowdose.services import diary_csv, reports
from lowdose.services.diary_csv import ColumnMapping, CsvRejected
from lowdose.settings import Settings

router = APIRouter(prefix="/api/v1/patients/{patient_id}", tags=["reports"])
REFUSALS = documented(401, 403, 404, 422)
PRIVATE = {"Cache-Control": "no-store"}
MAPPING_EXAMPLE = {"columns": {"Day": "date", "Pain (0-10)": "ratings.pain", "Notes": "note",
                               "Mood": None}, "date_format": "%d/%m/%Y"}


@router.get("/report.pdf", summary="The visit report as a PDF",
            response_class=Response, responses={
                **REFUSALS, 200: {"content": {"application/pdf": {}},
                                  "description": "The visit report"}})
def visit_report(request: Request, db: DB, ctx: Ctx, patient_id: int) -> Response:
    settings: Settings = request.app.state.settings
    pdf = reports.visit_report(db, ctx, patient_id, hold_hours=settings.hold_hours)
    name = f"lowdose-visit-report-patient-{patient_id}-{ctx.now:%Y-%m-%d}.pdf"
    return Response(pdf, media_type="application/pdf", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/checkins.csv", summary="The diary as CSV (one row per check-in)",
            response_class=Response, responses={
                **REFUSALS, 200: {"content": {"text/csv": {}}, "description": "The diary"}})
def export_checkins(
    db: DB, ctx: Ctx, patient_id: int,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    text = diary_csv.export_diary(db, ctx, patient_id, date_from=date_from, date_to=date_to)
    name = f"lowdose-diary-patient-{patient_id}.csv"
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'})


_IMPORT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "The CSV file, UTF-8"},
                       "mapping": {"type": "string", "description":
                                   "JSON: CSV column → lowdose field (date, dose_taken, "
                                   "dose_mg, dose_time, side_effects, note, ratings.<measure>) "
                                   "or null to skip; optional `date_format`. Without it the "
                                   "export's own columns are expected.",
                                   "example": json.dumps(MAPPING_EXAMPLE)}}}},
    "application/json": {"schema": {
        "type": "object", "required": ["csv"], "additionalProperties": False,
        "properties": {"csv": {"type": "string"},
                       "mapping": {"type": ["object", "null"]}}}}}}}


@router.post("/checkins/import", summary="Import check-ins from a CSV file (all or nothing)",
             responses=REFUSALS, openapi_extra=_IMPORT_BODY, response_model=None)
async def import_checkins(request: Request, db: DB, ctx: Ctx,
                          patient_id: int) -> dict[str, object] | ProblemResponse:
    data, mapping = await _upload(request)
    try:
        report = await run_in_threadpool(diary_csv.import_diary, db, ctx, patient_id, data,
                                         mapping)
    except CsvRejected as exc:
        return _rejected(request, exc)
    return report.to_dict()


def _rejected(request: Request, exc: CsvRejected) -> ProblemResponse:
    first, count = exc.rejected[0], len(exc.rejected)
    more = f" (and {count - 1} more)" if count > 1 else ""
    detail = f"line {first.line}: {first.field}: {first.message}{more}; nothing was imported"
    errors: Any = [r.to_dict() for r in exc.rejected]  # {field, message} plus the line
    return problem(request, 422, detail, type_=INVALID_INPUT, errors=errors)


async def _upload(request: Request) -> tuple[bytes, ColumnMapping | None]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.form(max_files=1, max_fields=2)
        except HTTPException as exc:  # starlette's 400 for a malformed or overfull form
            raise InputError("body", f"is not a usable form: {exc.detail}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InputError("file", "send the CSV file as the form field `file`")
        data = await upload.read(diary_csv.MAX_BYTES + 1)
        mapping_text = form.get("mapping")
        if mapping_text is not None and not isinstance(mapping_text, str):
            raise InputError("mapping", "must be JSON text, not a file")
        return data, _mapping(json_text=mapping_text)
    if kind == "application/json":
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("body", "is not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("csv"), str):
            raise InputError("csv", "send the file's text as the string `csv`")
        unknown = sorted(set(body) - {"csv", "mapping"})
        if unknown:
            raise InputError(unknown[0], "is not a known field")
        mapping = body.get("mapping")
        return body["csv"].encode("utf-8"), (None if mapping is None
                                             else ColumnMapping.from_dict(mapping))
    raise InputError("body", "send multipart/form-data with `file` (or JSON with `csv`)")


def _mapping(json_text: str | None) -> ColumnMapping | None:
    if json_text is None or not json_text.strip():
        return None
    try:
        data = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise InputError("mapping", f"is not valid JSON: {exc.msg}") from None
    return ColumnMapping.from_dict(data)
