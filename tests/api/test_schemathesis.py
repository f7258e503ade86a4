"""schemathesis against the live OpenAPI document of a real server over a seeded SQLite
database, signed in as a clinician and as a patient: every operation answers without a server
error, with a documented status code, media type, headers and body.

A short run (25 examples per operation, the personas taking turns) is part of the normal suite.
The long run (LOWDOSE_LONG_TESTS=1, `make hostile`) sends 200 examples per operation as each
persona.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lowdose.api.app import create_app
from lowdose.settings import Settings
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    CastIds,
    Templates,
    templates,
)

LONG = os.environ.get("LOWDOSE_LONG_TESTS") == "1"
EXAMPLES = 200 if LONG else 25
# The documented behaviour of every answer: no 5xx, only declared statuses and media types,
# bodies and headers as declared.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
PERSONAS = ("clinician", "patient")
ID_PARAMETERS = ("patient_id", "clinic_id", "team_id", "user_id", "course_id", "medicine_id",
                 "procedure_id", "response_id")


@dataclass
class LiveServer:
    base_url: str
    ids: CastIds
    tokens: dict[str, str]
    turns: Iterator[str] = field(default_factory=lambda: itertools.cycle(PERSONAS))

    def headers(self, persona: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[persona]}"}

    def known_ids(self) -> list[int]:
        ids = self.ids
        return [ids.alice, ids.bob, ids.erin, ids.clinic_a, ids.clinic_b, ids.team_a,
                ids.team_b, *(user.id for user in ids.users.values())]


@pytest.fixture(scope="module")
def live(templates: Templates, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
         serve_app: Callable[[Any], Any]) -> Iterator[LiveServer]:
    # One server for the module: the cases of every operation share its (growing) record.
    url, ids = templates.fresh("sqlite", "cast", f"schemathesis-{uuid.uuid4().hex[:10]}")
    assert isinstance(ids, CastIds)
    settings_ = Settings(mode="development", data_dir=tmp_path_factory.mktemp("data"),
                         database_url=url, secret_key="test-secret", hold_hours=None)
    with serve_app(create_app(settings_)) as base:
        served = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert served == SPEC, "the live server serves the document the cases come from"
        tokens = {}
        for persona in PERSONAS:
            answer = httpx.post(f"{base}/api/v1/auth/token", data={
                "username": ids.users[persona].username, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            tokens[persona] = answer.json()["access_token"]
        yield LiveServer(base, ids, tokens)


def _spec() -> dict[str, Any]:
    # The app's OpenAPI document, built at collection so pytest gets one test per operation;
    # `live` checks that the running server serves exactly this document.
    app = create_app(Settings(mode="development", data_dir=Path("unused"), database_url=None,
                              secret_key="test-secret", hold_hours=None))
    return app.openapi()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
                suppress_health_check=list(HealthCheck))


def call(case: schemathesis.Case, live: LiveServer, persona: str) -> None:
    # Random integers almost never name a stored row; steer three in four towards the cast's
    # ids so the routes get past "not found" into authorization and storage. Only integers
    # are steered, so a case meant to be invalid stays invalid.
    known = live.known_ids()
    for name, value in (case.path_parameters or {}).items():
        if name in ID_PARAMETERS and type(value) is int and value % 4:
            case.path_parameters[name] = known[value % len(known)]
    case.call_and_validate(base_url=live.base_url, headers=live.headers(persona),
                           checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_every_operation_keeps_its_contract(case: schemathesis.Case, live: LiveServer) -> None:
    # The short run alternates the personas from case to case; the long run sends every
    # case as both.
    for persona in PERSONAS if LONG else (next(live.turns),):
        call(case, live, persona)


# ----------------------------------------------------------- defects schemathesis found


def test_a_body_that_is_not_text_is_bad_input_naming_the_body(live: LiveServer) -> None:
    # Bytes that are not UTF-8 used to be an undocumented bare 400.
    answer = httpx.post(f"{live.base_url}/api/v1/patients/{live.ids.alice}/checkins",
                        content=b'{"date": "\x80\x81"}', headers={
                            **live.headers("patient"), "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "body"


def test_a_dose_time_with_an_offset_is_refused_not_a_crash(live: LiveServer) -> None:
    # "00:00Z" beside a date without an offset used to end in a 500 inside the screen.
    answer = httpx.post(f"{live.base_url}/api/v1/screen", json={
        "as_of": "2000-01-01", "ldn": {"dose_mg": 1, "last_taken": "1999-12-31",
                                       "time": "00:00:00Z"}})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "ldn.time"
