"""Every error is RFC 9457 problem details; bad input is a 422 naming each field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from lowdose.api.app import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
INVALID_INPUT = "urn:lowdose:problem:invalid-input"
PERIOP = {"surgery_at": "2025-06-12T08:00", "as_of": "2025-06-02T09:00"}
PLAN = {"from": "2025-06-02", "start_mg": 1.5, "step_mg": 0.5, "every_days": 7,
        "target_mg": 4.5}


def assert_problem(response: httpx.Response, status: int, path: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["instance"] == path
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/plan", {**PLAN, "dose": 3}, "dose"),  # unknown fields are refused
        ("/api/v1/plan", {**PLAN, "target_mg": "lots"}, "target_mg"),
        ("/api/v1/plan", {**PLAN, "from": "2025-13-01"}, "from"),
        ("/api/v1/plan", {**PLAN, "target_mg": 9}, "target_mg"),  # above the ceiling: core
        ("/api/v1/plan", {**PLAN, "timing": "noon"}, "timing"),
        ("/api/v1/periop", {"as_of": "2025-06-02T09:00"}, "surgery_at"),
        ("/api/v1/periop", {**PERIOP, "hold_hours": 0}, "hold_hours"),
        ("/api/v1/formulate", {"dose_mg": 4.5, "form": "capsule", "quantity": 30,
                               "start": "2025-06-02", "mg_per_ml": 5}, "mg_per_ml"),
        ("/api/v1/formulate", {"dose_mg": 4.5, "form": "tincture", "quantity": 30,
                               "start": "2025-06-02"}, "form"),
        # Dates past the calendar's ends: the hold would start before year 1.
        ("/api/v1/periop", {"surgery_at": "0001-01-01T01:00", "as_of": "0001-01-01T00:00"},
         "body"),
        ("/api/v1/plan", {**PLAN, "every_days": 10**9}, "body"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(api.post(path, json=body), 422, path)
    assert problem["type"] == INVALID_INPUT
    assert field in [error["field"] for error in problem["errors"]]
    assert all(set(error) == {"field", "message"} and error["message"]
               for error in problem["errors"])
    assert problem["detail"].startswith(f"{problem['errors'][0]['field']}: ")


def test_every_bad_field_is_listed_not_just_the_first(api: httpx.Client) -> None:
    body = {**PLAN, "start_mg": "x", "every_days": "y", "colour": "red"}
    problem = assert_problem(api.post("/api/v1/plan", json=body), 422, "/api/v1/plan")
    assert {e["field"] for e in problem["errors"]} == {"start_mg", "every_days", "colour"}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ('{"surgery_at": "2025-06-12T08:00",', "application/json"),
        ("", "application/json"),
        ("[1, 2]", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_422(
    api: httpx.Client, content: str, content_type: str
) -> None:
    response = api.post("/api/v1/periop", content=content,
                        headers={"content-type": content_type})
    problem = assert_problem(response, 422, "/api/v1/periop")
    assert problem["errors"][0]["field"] == "body"


def test_unknown_path_is_a_404_problem(api: httpx.Client) -> None:
    problem = assert_problem(api.get("/api/v1/no-such-thing"), 404, "/api/v1/no-such-thing")
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Not Found"


def test_wrong_method_is_a_405_problem_that_says_what_is_allowed(api: httpx.Client) -> None:
    response = api.get("/api/v1/plan")
    assert_problem(response, 405, "/api/v1/plan")
    assert response.headers["allow"] == "POST"


def answer_of_failing_route(make_settings: Callable[..., Any],
                            serve_app: Callable[[Any], Any], path: str, error: Exception,
                            query: str = "") -> httpx.Response:
    """GET `path` (+ `query`) on the app with one extra route there that raises `error`."""
    app = create_app(make_settings())
    extra = APIRouter()

    @extra.get(path)
    async def fail() -> None:
        raise error

    app.include_router(extra)
    with serve_app(app) as url:
        return httpx.get(f"{url}{path}{query}")


def test_a_crash_is_a_500_problem_without_the_traceback(
    make_settings: Callable[..., Any], serve_app: Callable[[Any], Any]
) -> None:
    # A router added later (as stored-record routers will be) that fails unexpectedly.
    response = answer_of_failing_route(make_settings, serve_app, "/api/v1/broken",
                                       RuntimeError("secret internal state"))
    problem = assert_problem(response, 500, "/api/v1/broken")
    assert problem["type"] == "about:blank"
    assert "secret internal state" not in response.text
    assert "RuntimeError" not in response.text


@pytest.mark.parametrize("as_of", [None, [], {"day": 2}], ids=["null", "list", "object"])
def test_a_field_that_may_be_a_date_or_a_moment_is_named_once_as_sent(
    api: httpx.Client, as_of: Any
) -> None:
    # §3.4: errors name the field of the body. `as_of` takes a date or a date and time; the
    # validator's internal alternatives ("as_of.date", "as_of.datetime") are not fields.
    problem = assert_problem(api.post("/api/v1/screen", json={"as_of": as_of}), 422,
                             "/api/v1/screen")
    assert problem["errors"] == [{"field": "as_of", "message": problem["errors"][0]["message"]}]
    assert "2025-06-01" in problem["errors"][0]["message"]
    assert problem["detail"] == f"as_of: {problem['errors'][0]['message']}"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          None])
def test_a_json_body_sent_as_another_media_type_is_told_to_send_json(
    api: httpx.Client, content_type: str | None
) -> None:
    # §3.4: REST JSON; the error says what is wrong. A valid §3.1 profile sent with another
    # content type was refused as "Input should be a valid dictionary or object to extract
    # fields from", which does not say the content type is the problem.
    headers = {} if content_type is None else {"content-type": content_type}
    response = api.post("/api/v1/screen", content=b'{"as_of": "2025-06-02T09:00"}',
                        headers=headers)
    problem = assert_problem(response, 422, "/api/v1/screen")
    assert [e["field"] for e in problem["errors"]] == ["body"]
    assert "application/json" in problem["errors"][0]["message"]
    assert api.post("/api/v1/screen", json={"as_of": "2025-06-02T09:00"}).status_code == 200


@pytest.mark.parametrize(("query", "field"), [("?days=99999999", "query"), ("", "request")])
def test_a_date_off_the_calendar_in_a_get_does_not_blame_a_body(
    make_settings: Callable[..., Any], serve_app: Callable[[Any], Any], query: str,
    field: str
) -> None:
    # §3.4: errors name the field. A GET has no body: date arithmetic past year 9999 in one
    # (a route's query, or a feed built from the record) was reported against "body".
    response = answer_of_failing_route(make_settings, serve_app, "/api/v1/far-future",
                                       OverflowError("date value out of range"), query)
    problem = assert_problem(response, 422, "/api/v1/far-future")
    assert [e["field"] for e in problem["errors"]] == [field]
