"""The real `lowdose serve`, logging JSON lines at DEBUG, is sent hostile patient data in every
place a request carries it (body, query string, headers, a failed sign-in) and made to fail
on it with a server error; its whole output is then read as an operator would."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from persistence.conftest import CastIds

from .conftest import ServeProcess, login

NAME = "Zebulon Quartermaine-4417"
NOTE = "whispered-note-7731 about my bladder"
QUERY = "query-secret-5150"
HEADER = "header-secret-2718"
PASSWORD_TRIED = "tried-password-9090"
CRASH = "crash-note-6062 with an embarrassing detail"
PROXY_ID = "8f14e45fceea167a5a36dedd4bea2543"  # nginx's $request_id, passed on
SECRETS = (NAME, NOTE, QUERY, HEADER, PASSWORD_TRIED, CRASH, "correct horse battery staple")


def refuse_crash_notes(database_url: str) -> None:
    """Make the database itself refuse a check-in whose note mentions "crash-note": a fault
    the app does not expect, so it answers 500 and logs the exception."""
    if database_url.startswith("postgresql"):
        # PostgreSQL's message then quotes the whole row: "Failing row contains (…)".
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute("ALTER TABLE checkins ADD CONSTRAINT refuse_crash "
                         "CHECK (note IS NULL OR note NOT LIKE '%crash-note%')")
        return
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TRIGGER refuse_crash BEFORE INSERT ON checkins "
            "WHEN NEW.note LIKE '%crash-note%' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    engine.dispose()


def test_logs_carry_requests_and_errors_but_no_patient_data(
        fresh_database: Callable[[str], tuple[str, object]],
        start_serve: Callable[..., ServeProcess]) -> None:
    url, ids = fresh_database("cast")
    assert isinstance(ids, CastIds)
    refuse_crash_notes(url)
    served = start_serve(url, env={"LOWDOSE_LOG_FORMAT": "json", "LOWDOSE_LOG_LEVEL": "debug"})
    with httpx.Client(base_url=served.url, timeout=30) as client:
        statuses = send_hostile_traffic(client, ids)
    served.stop()
    output = served.log_text()
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} reached the log"
    lines = served.log_lines()  # every line parses as JSON
    requests = [line for line in lines if line["logger"] == "lowdose.access"]
    assert [r["status"] for r in requests[-len(statuses):]] == statuses
    for line in requests:
        assert set(line) >= {"time", "level", "request_id", "method", "route", "status",
                             "duration_ms"}
        assert "?" not in line["route"]
    routes = {r["route"] for r in requests}
    assert "/api/v1/patients/{patient_id}/checkins" in routes
    assert not any(re.search(r"/\d+(/|$)", route) for route in routes)  # templates, no ids
    crash = [line for line in lines if "error" in line]
    assert crash, "the server error was not logged"
    assert crash[0]["error"]["frames"], "an error is logged with where it happened"
    # The crash's lines carry the id of the request that crashed.
    crashed_request = next(r for r in requests if r["status"] == 500)
    assert crashed_request["request_id"] in {line.get("request_id") for line in crash}
    assert not any(line["logger"] == "uvicorn.access" for line in lines)
    assert PROXY_ID in {r["request_id"] for r in requests}  # the proxy's id joins the logs


def send_hostile_traffic(client: httpx.Client, ids: CastIds) -> list[int]:
    carol, ada = login(client, "carol"), login(client, "ada")
    checkins = f"/api/v1/patients/{ids.alice}/checkins"
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"/api/v1/clinics/{ids.clinic_a}/patients",
         {"json": {"display_name": NAME}, "headers": ada}),
        ("POST", checkins + f"?{QUERY}=1", {"json": {"date": "2025-06-02", "note": NOTE},
                                            "headers": {**carol, "X-Request-ID": HEADER,
                                                        "Idempotency-Key": HEADER}}),
        ("GET", checkins + f"?from={QUERY}", {"headers": {**carol, "X-Request-ID": PROXY_ID}}),
        ("GET", f"/api/v1/patients/{ids.alice}/questionnaires?instrument={NAME}",
         {"headers": carol}),
        ("POST", checkins, {"json": {"date": "2025-06-03", "note": NOTE, "ratings": {
            "pain": 11}}, "headers": carol}),
        ("POST", "/api/v1/auth/token", {"data": {"username": NAME,
                                                 "password": PASSWORD_TRIED}}),
        ("GET", f"/api/v1/no-such-route/{NAME}?{QUERY}", {"headers": carol}),
        ("POST", checkins, {"json": {"date": "2025-06-04", "note": CRASH}, "headers": carol}),
    ]
    statuses = []
    for method, path, kwargs in requests:
        statuses.append(client.request(method, path, **kwargs).status_code)
    assert statuses == [200, 201, 422, 422, 422, 401, 404, 500], statuses
    return statuses


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_plain_text_logs_follow_the_same_rule(
        fresh_database: Callable[[str], tuple[str, object]],
        start_serve: Callable[..., ServeProcess]) -> None:
    url, ids = fresh_database("cast")
    assert isinstance(ids, CastIds)
    refuse_crash_notes(url)
    served = start_serve(url, env={"LOWDOSE_LOG_FORMAT": "text", "LOWDOSE_LOG_LEVEL": "debug"})
    with httpx.Client(base_url=served.url, timeout=30) as client:
        send_hostile_traffic(client, ids)
    served.stop()
    output = served.log_text()
    for secret in SECRETS:
        assert secret not in output
    assert "route=/api/v1/patients/{patient_id}/checkins status=500" in output
