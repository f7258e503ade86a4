"""Every API error as RFC 9457 problem details (`application/problem+json`).

A problem has `type`, `title`, `status`, `detail` and `instance` (the request path). Bad input
(a body that fails validation, or an `InputError` from core) is a 422 of type
`urn:lowdose:problem:invalid-input` with an `errors` list of `{field, message}`, fields as
dotted paths in the body (`medications.0.text`). Other HTTP errors are `about:blank` with the
status phrase as title. An unexpected exception is a plain 500 problem: no traceback leaves
the server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from lowdose.errors import InputError

PROBLEM_JSON = "application/problem+json"
INVALID_INPUT = "urn:lowdose:problem:invalid-input"


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. `medications.0.text`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description=f"`{INVALID_INPUT}` for bad input, else "
                                                 "`about:blank` (the status says it all).")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path of the request that failed.")
    errors: list[FieldError] | None = Field(None, description="Bad input only: each field "
                                                              "and what is wrong with it.")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body: dict[str, Any] = {"type": type_, "title": HTTPStatus(status).phrase, "status": status,
                            "detail": detail, "instance": request.url.path}
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def invalid_input(request: Request, errors: list[dict[str, str]]) -> ProblemResponse:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return problem(request, 422, f"{first['field']}: {first['message']}{more}",
                   type_=INVALID_INPUT, errors=errors)


# What a value of each type looks like, for a field that takes one of several types.
_KINDS = {"date": "a date (2025-06-01)", "datetime": "a date and time (2025-06-01T22:00)",
          "time": "a time (22:00)", "int": "a whole number", "float": "a number",
          "str": "text", "bool": "true or false"}


def _union_member(error: Mapping[str, Any]) -> str | None:
    # Pydantic reports a value no member of a union accepts once per member, the member's
    # type appended to the field's path: ("as_of", "date") with type "date_type".
    loc = error.get("loc", ())
    tag = loc[-1] if loc else None
    kind = str(error.get("type", ""))
    if isinstance(tag, str) and tag in _KINDS and kind.startswith(tag + "_"):
        return tag
    return None


def _merge_unions(errors: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One error at the field itself for a value no member of a union accepts."""
    members: dict[tuple[Any, ...], list[str]] = {}
    for error in errors:
        tag = _union_member(error)
        if tag is not None:
            members.setdefault(tuple(error["loc"][:-1]), []).append(tag)
    merged: list[Mapping[str, Any]] = []
    done: set[tuple[Any, ...]] = set()
    for error in errors:
        parent = tuple(error.get("loc", ()))[:-1]
        if _union_member(error) is None or len(members[parent]) < 2:
            merged.append(error)
        elif parent not in done:
            done.add(parent)
            kinds = " or ".join(_KINDS[tag] for tag in members[parent])
            merged.append({"loc": parent, "type": "union", "msg": f"must be {kinds}"})
    return merged


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic/FastAPI validation errors as `{field, message}` with dotted body paths."""
    out = []
    for error in _merge_unions(list(errors)):
        loc = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            # FastAPI puts the character offset where the field would be.
            at = f" at character {loc[1]}" if len(loc) > 1 else ""
            reason = error.get("ctx", {}).get("error", "parse error")
            out.append({"field": "body", "message": f"is not valid JSON{at}: {reason}"})
            continue
        if loc and loc[0] == "body":
            loc = loc[1:]
        out.append({"field": ".".join(loc) or "body", "message": _message(error)})
    return out


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


async def _on_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        # A JSON route reads any other media type as no object at all: say what to send.
        sent = f"this request's is {media_type}" if media_type else "this request has none"
        errors = [{"field": "body", "message": "send the body as JSON, with Content-Type: "
                                               f"application/json ({sent})"}
                  if e["field"] == "body" else e for e in errors]
    return invalid_input(request, errors)


async def _on_input_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, InputError)
    return invalid_input(request, [{"field": exc.field, "message": exc.message}])


# Date arithmetic past year 9999 (or before year 1) raises OverflowError; only extreme input
# gets there, so it is the client's problem, told plainly, not a server error.
OUT_OF_RANGE = ("a date, or a number of days or hours, is so large that the result falls "
                "outside the calendar (years 1–9999)")


# An id or offset beyond the database's integer range: SQLite's driver raises OverflowError,
# PostgreSQL a DataError ("out of range"). Either way the number is the client's problem.
TOO_LARGE = "a number in the request is larger than lowdose can store or look up"


async def _on_overflow(request: Request, exc: Exception) -> ProblemResponse:
    if "sqlite integer" in str(exc).lower():
        return invalid_input(request, [{"field": "request", "message": TOO_LARGE}])
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):  # no body to blame
        field = "query" if request.url.query else "request"
        return invalid_input(request, [{"field": field, "message": OUT_OF_RANGE}])
    return invalid_input(request, [{"field": "body", "message": OUT_OF_RANGE}])


async def _on_data_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DataError)
    if "out of range" not in str(exc.orig).lower():
        return await _on_crash(request, exc)
    return invalid_input(request, [{"field": "request", "message": TOO_LARGE}])


# FastAPI answers a body it cannot decode at all (bytes that are not UTF-8, say) with a bare
# 400 of this detail; undecodable JSON is bad input like malformed JSON, so it is a 422 too.
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _on_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        reason = "is not valid JSON text: it could not be decoded"
        return invalid_input(request, [{"field": "body", "message": reason}])
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else (
        f"{phrase}: {request.method} {request.url.path}")
    return problem(request, exc.status_code, detail, headers=exc.headers)


async def _on_crash(request: Request, exc: Exception) -> ProblemResponse:
    # The server log keeps the traceback; the client learns only that it was our fault.
    return problem(request, 500, "An unexpected error occurred on the server. It is not "
                                 "caused by your input; please report it.")


def install(app: FastAPI) -> None:
    """Answer every error of `app` with problem details."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InputError, _on_input_error)
    app.add_exception_handler(OverflowError, _on_overflow)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries saying these statuses answer with a Problem."""
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase}
            for status in statuses}


def problem_media_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare error responses (4xx/5xx) in the OpenAPI document as application/problem+json,
    the media type they are sent with, instead of FastAPI's default application/json."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[:1] in ("4", "5") and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    return schema
