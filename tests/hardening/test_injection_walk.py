"""Injection attempts in every parameter of every operation in the OpenAPI document, on SQLite
and PostgreSQL, as a signed-in clinician: SQL, path traversal, header injection, null bytes,
markup. Every answer is below 500, none echoes a file or sets a header it was fed, and the
database is intact afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from lowdose.store import Database
from lowdose.store.models import AuditEvent, Checkin, Patient, User

from .conftest import CastServer, login

PAYLOADS = (
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "1 UNION SELECT password_hash FROM users --",
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "/etc/passwd\x00.json",
    "x\r\nSet-Cookie: injected=1",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "9" * 400,
)
# An integer beyond the database's range (a 400-digit id or offset): 422 on both databases.
OUT_OF_RANGE = "9" * 400

# A value that parses for each path parameter, so the others can be attacked one at a time.
WELL_FORMED = {"day": "2025-06-01", "token": "not-a-feed"}


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation.get("parameters", [])


def test_injection_in_any_parameter_is_refused_or_harmless(cast_server: CastServer) -> None:
    client, ids = cast_server.client, cast_server.ids
    carol = login(client, "carol")
    before = counts(cast_server.database_url)
    openapi = client.get("/api/v1/openapi.json").json()
    defaults = {"patient_id": ids.alice, "clinic_id": ids.clinic_a, "team_id": ids.team_a,
                "user_id": ids.users["clinician"].id, **WELL_FORMED}
    tried, attacked_paths = 0, set()
    for method, template, parameters in operations(openapi):
        for target in parameters:
            # Every query and header parameter everywhere; a path parameter once per name
            # (they all go through the same int/date conversion before any route runs).
            if target["in"] == "path":
                if target["name"] in attacked_paths:
                    continue
                attacked_paths.add(target["name"])
            for payload in PAYLOADS:
                response = send(client, method, template, parameters, target, payload,
                                defaults, carol)
                if response is None:
                    continue
                tried += 1
                where = f"{method} {template} {target['in']}:{target['name']} = {payload!r}"
                assert response.status_code < 500, f"{where} → {response.status_code}"
                if target["in"] == "path":
                    assert 400 <= response.status_code < 500, f"{where} was accepted"
                assert "injected" not in response.headers.get("set-cookie", ""), where
                assert "root:x:0:0" not in response.text, where
                assert "smuggled" not in "".join(response.headers.values()), where
    assert tried > 150
    after = counts(cast_server.database_url)
    # Nothing dropped, no account or patient made; only the audit log grows (reads of a
    # record are audited) and check-ins may be stored under an attacked Idempotency-Key.
    assert {k: after[k] for k in ("users", "patients")} == {
        k: before[k] for k in ("users", "patients")}
    assert after["audit_events"] >= before["audit_events"]


def send(client: httpx.Client, method: str, template: str, parameters: list[dict[str, Any]],
         target: dict[str, Any], payload: str, defaults: dict[str, Any],
         auth: dict[str, str]) -> httpx.Response | None:
    """One request with `payload` in `target` and well-formed values elsewhere; None when the
    payload cannot be sent in that place at all (the HTTP client refuses it)."""
    path_values = {p["name"]: defaults.get(p["name"], 1)
                   for p in parameters if p["in"] == "path"}
    query: dict[str, str] = {}
    headers = dict(auth)
    if target["in"] == "path":
        path_values[target["name"]] = payload
    elif target["in"] == "query":
        query[target["name"]] = payload
    elif target["in"] == "header":
        if any(c in payload for c in "\r\n\x00") or not payload.isascii():
            return None  # httpx will not put these in a header; h11 would refuse them
        headers[target["name"]] = payload
    else:
        return None
    path = template
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, params=query, headers=headers, json=body)


def counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        with db.transaction(write=False) as session:
            return {name: session.scalar(select(func.count()).select_from(table)) or 0
                    for name, table in (("users", User), ("patients", Patient),
                                        ("checkins", Checkin),
                                        ("audit_events", AuditEvent))}
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("path", ["/api/v1/patients/2147483648",
                                  f"/api/v1/patients?offset={OUT_OF_RANGE}"])
def test_an_integer_beyond_the_database_range_is_refused_not_a_crash(
        cast_server: CastServer, path: str) -> None:
    carol = login(cast_server.client, "carol")
    assert cast_server.client.get(path, headers=carol).status_code in (404, 422)


def test_pages_outside_the_openapi_document_take_injections_safely(
        stateless_server: httpx.Client) -> None:
    """Web pages, the learn guide, static files and calendar feeds are not in the OpenAPI
    document: their declared query and path parameters are attacked here, signed out."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from lowdose.api.app import create_app
    from lowdose.settings import Settings

    app = create_app(Settings(mode="development", secret_key="test-secret"))
    tried = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.include_in_schema or \
                "GET" not in context.methods:
            continue
        dependant = route.dependant
        path_names = [p.alias for p in dependant.path_params]
        targets = [("query", p.alias) for p in dependant.query_params] + \
                  [("path", name) for name in path_names]
        for place, name in targets:
            for payload in PAYLOADS:
                attacked = name if place == "path" else None
                path = fill_path(context.path, attacked, payload)
                params = {name: payload} if place == "query" else {}
                response = stateless_server.get(path, params=params, follow_redirects=False)
                tried += 1
                where = f"GET {context.path} {place}:{name} = {payload!r}"
                assert response.status_code < 500, f"{where} → {response.status_code}"
                assert "root:x:0:0" not in response.text, where
                assert "injected" not in response.headers.get("set-cookie", ""), where
                location = response.headers.get("location", "")
                assert not location.startswith(("http", "//")), f"{where} → {location}"
    assert tried > 50


def fill_path(template: str, attacked: str | None, payload: str) -> str:
    """`template` with `payload` in the parameter `attacked` and "1" in the others."""
    def value(match: re.Match[str]) -> str:
        return quote(payload if match.group(1) == attacked else "1", safe="")
    return re.sub(r"\{(\w+)(:\w+)?\}", value, template)


def test_a_too_long_static_file_name_is_404_not_a_crash(stateless_server: httpx.Client) -> None:
    assert stateless_server.get("/static/" + "a" * 300 + ".css").status_code == 404
