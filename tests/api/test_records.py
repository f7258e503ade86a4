"""The stored record over real HTTP, on SQLite and PostgreSQL: signing in, `/me`, check-ins
with idempotency keys, date ranges, paging, profile changes, and errors as problem details."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store import Database
from lowdose.store.models import AuditEvent
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    Cast,
    CastIds,
    backend,
    isolated_database,
    templates,
)

CHECKIN = {"date": "2025-06-02", "dose_taken": True, "dose_mg": 1.5, "dose_time": "22:05",
           "ratings": {"pain": 6, "fatigue": 5, "sleep": 7},
           "side_effects": [{"name": "vivid dreams", "severity": 1}], "note": "slept well"}


@dataclass
class RecordServer:
    """A real server over a database holding the persistence tests' cast."""

    client: httpx.Client
    cast: Cast
    tokens: dict[str, str]

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return self.client.post("/api/v1/auth/token",
                                data={"username": username, "password": password})

    def as_(self, persona: str) -> dict[str, str]:
        """Headers of `persona` ("anonymous": none)."""
        if persona == "anonymous":
            return {}
        if persona not in self.tokens:
            response = self.login(self.cast.user(persona).username)
            assert response.status_code == 200, response.text
            self.tokens[persona] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[persona]}"}


@pytest.fixture
def server(isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
           serve_app: Callable[[Any], Any], tmp_path: Path) -> Iterator[RecordServer]:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    settings = Settings(mode="development", data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret", hold_hours=None)
    database = Database(url)
    with serve_app(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=20) as client:
        yield RecordServer(client, Cast(database, ids), {})
    database.dispose()


# ------------------------------------------------------------------------- signing in


def test_sign_in_gives_a_bearer_token_that_says_who_i_am(server: RecordServer) -> None:
    response = server.login("Alice")
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    me = server.client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.status_code == 200
    assert (me.json()["user"], me.json()["role"], me.json()["patient_id"]) == (
        "alice", "patient", server.cast.ids.alice)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}],
                         ids=["no token", "unknown token"])
def test_records_need_a_valid_bearer_token(server: RecordServer,
                                           headers: dict[str, str]) -> None:
    response = server.client.get("/api/v1/patients", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_wrong_password_is_401_and_repeated_failures_lock_with_retry_after(
        server: RecordServer) -> None:
    answers = [server.login("carol", "wrong password!") for _ in range(12)]
    assert all(a.status_code == 401 for a in answers)
    locked = [a for a in answers if "retry-after" in a.headers]
    assert locked, "a lockout must say when to retry"
    assert int(locked[-1].headers["retry-after"]) >= 1
    assert server.login("carol").status_code == 401  # even the right password, while locked


# ---------------------------------------------------------------------------- check-ins


def test_checkin_is_stored_201_and_a_retry_with_the_same_key_is_200_with_the_same_record(
        server: RecordServer) -> None:
    url = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    headers = {**server.as_("patient"), "Idempotency-Key": "phone-42"}
    first = server.client.post(url, json=CHECKIN, headers=headers)
    again = server.client.post(url, json=CHECKIN, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert {k: first.json()[k] for k in CHECKIN} == CHECKIN
    listed = server.client.get(url, headers=server.as_("clinician")).json()
    assert [c["id"] for c in listed] == [first.json()["id"]]


def test_reusing_an_idempotency_key_for_another_body_is_a_conflict(server: RecordServer) -> None:
    url = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    headers = {**server.as_("patient"), "Idempotency-Key": "phone-43"}
    assert server.client.post(url, json=CHECKIN, headers=headers).status_code == 201
    other = server.client.post(url, json={**CHECKIN, "note": "changed"}, headers=headers)
    assert other.status_code == 409


def test_second_checkin_for_a_date_updates_it_and_keeps_the_first_in_history(
        server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    headers = server.as_("patient")
    server.client.post(base, json=CHECKIN, headers=headers)
    server.client.post(base, json={**CHECKIN, "ratings": {"pain": 3}}, headers=headers)
    current = server.client.get(base, headers=headers).json()
    history = server.client.get(f"{base}/2025-06-02/history", headers=headers).json()
    assert [c["ratings"] for c in current] == [{"pain": 3}]
    assert [h["ratings"]["pain"] for h in history] == [6, 3]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["2025-06-01", "2025-06-02", "2025-06-03"]),
    ("?from=2025-06-02", ["2025-06-02", "2025-06-03"]),
    ("?to=2025-06-02", ["2025-06-01", "2025-06-02"]),
    ("?from=2025-06-02&to=2025-06-02", ["2025-06-02"]),
])
def test_checkins_are_listed_between_inclusive_dates(server: RecordServer, query: str,
                                                      expected: list[str]) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    for day in ("2025-06-03", "2025-06-01", "2025-06-02"):
        server.client.post(base, json={**CHECKIN, "date": day}, headers=server.as_("patient"))
    listed = server.client.get(base + query, headers=server.as_("patient")).json()
    assert [c["date"] for c in listed] == expected


@pytest.mark.parametrize(("body", "field"), [
    ({**CHECKIN, "ratings": {"pain": 11}}, "ratings.pain"),
    ({**CHECKIN, "side_effects": [{"name": "nausea", "severity": 4}]}, "side_effects.0.severity"),
    ({k: v for k, v in CHECKIN.items() if k != "date"}, "date"),
    ({**CHECKIN, "mood": 3}, "mood"),
    ({**CHECKIN, "dose_mg": 10000}, "dose_mg"),  # above a whole 50 mg tablet: a slip
    ({**CHECKIN, "date": "0001-01-01"}, "date"),
])
def test_bad_checkin_is_422_naming_the_field_and_nothing_is_stored(
        server: RecordServer, body: dict[str, Any], field: str) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    response = server.client.post(base, json=body, headers=server.as_("patient"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert server.client.get(base, headers=server.as_("patient")).json() == []


# ------------------------------------------------------------------------------ patients


@pytest.mark.parametrize(("persona", "expected"), [
    ("patient", ["alice"]), ("second_patient", ["bob"]), ("clinician", ["alice", "bob"]),
    ("other_clinician", ["erin"]), ("admin", ["alice", "bob"]), ("outsider", []),
])
def test_patient_list_shows_only_whom_the_caller_may_see(server: RecordServer, persona: str,
                                                         expected: list[str]) -> None:
    ids = {"alice": server.cast.ids.alice, "bob": server.cast.ids.bob,
           "erin": server.cast.ids.erin}
    listed = server.client.get("/api/v1/patients", headers=server.as_(persona)).json()
    assert [p["id"] for p in listed] == [ids[name] for name in expected]


def test_patient_list_pages_with_limit_and_offset(server: RecordServer) -> None:
    headers = server.as_("admin")
    pages = [server.client.get(f"/api/v1/patients?limit=1&offset={n}", headers=headers).json()
             for n in range(3)]
    assert [[p["id"] for p in page] for page in pages] == [
        [server.cast.ids.alice], [server.cast.ids.bob], []]
    bad = server.client.get("/api/v1/patients?limit=0", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.limit"


def test_profile_change_touches_only_the_fields_sent(server: RecordServer) -> None:
    url = f"/api/v1/patients/{server.cast.ids.alice}/profile"
    headers = server.as_("clinician")
    server.client.patch(url, json={"weight_kg": 70, "sex": "female"}, headers=headers)
    changed = server.client.patch(url, json={"weight_kg": None}, headers=headers)
    assert changed.status_code == 200
    assert (changed.json()["weight_kg"], changed.json()["sex"]) == (None, "female")
    bad = server.client.patch(url, json={"weight_kg": -3}, headers=headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "weight_kg")


def test_record_screen_finds_an_opioid_on_the_stored_medicine_list(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    headers = server.as_("clinician")
    added = server.client.post(f"{base}/medicines", headers=headers,
                               json={"text": "Norco 5/325 mg", "last_taken": "2025-06-01"})
    assert added.status_code == 200, added.text
    screen = server.client.get(f"{base}/screen?as_of=2025-06-02T09:00", headers=headers)
    assert screen.status_code == 200, screen.text
    assert screen.json()["verdict"] != "ok"
    assert "opioid" in screen.text.lower()


# ------------------------------------------------------------------------ courses and plans


def test_plan_revision_appends_a_version_and_keeps_the_first(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/courses"
    headers = server.as_("clinician")
    course = server.client.post(base, headers=headers, json={
        "started_on": "2025-06-02", "indication": "fibromyalgia",
        "first_plan": {"from_date": "2025-06-02", "protocol": "ldnrt-liquid"}})
    assert course.status_code == 200, course.text
    plans = f"{base}/{course.json()['id']}/plans"
    revised = server.client.post(plans, headers=headers, json={
        "request": {"from_date": "2025-06-09", "protocol": "ldnrt-liquid", "target_mg": 3},
        "reason": "dreams at 4.5 mg"})
    assert revised.status_code == 200, revised.text
    versions = server.client.get(plans, headers=server.as_("patient")).json()
    assert [(v["version"], v["request"]["from_date"]) for v in versions] == [
        (1, "2025-06-02"), (2, "2025-06-09")]


@pytest.mark.parametrize(("plan", "field"), [
    ({"from_date": "2025-06-02", "every_days": "weekly"}, "request.every_days"),
    ({"from_date": "not a date"}, "request.from_date"),
    ({"protocol": "ldnrt-liquid"}, "request.from_date"),
    ({"from_date": "2025-06-02", "dose": 3}, "request.dose"),
])
def test_bad_plan_request_is_422_naming_the_field(server: RecordServer, plan: dict[str, Any],
                                                  field: str) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/courses"
    headers = server.as_("clinician")
    course = server.client.post(base, headers=headers, json={"started_on": "2025-06-02"})
    response = server.client.post(f"{base}/{course.json()['id']}/plans", headers=headers,
                                  json={"request": plan})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_patient_cannot_prescribe_for_themselves(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/courses"
    response = server.client.post(base, headers=server.as_("patient"),
                                  json={"started_on": "2025-06-02"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert server.client.get(base, headers=server.as_("patient")).json() == []


# ----------------------------------------------------------------------------- medicines


@pytest.mark.parametrize(("sent", "kept"), [
    ("2025-06-01", "2025-06-01"),
    ("2025-06-01T22:30", "2025-06-01T22:30"),
])
def test_medicine_last_taken_keeps_a_bare_date_apart_from_a_moment(
        server: RecordServer, sent: str, kept: str) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/medicines"
    added = server.client.post(base, headers=server.as_("patient"),
                               json={"text": "tramadol 50 mg", "last_taken": sent})
    assert added.status_code == 200, added.text
    # A bare date must not gain a time of day; a moment may gain seconds.
    allowed = {kept, kept + ":00"} if "T" in kept else {kept}
    assert added.json()["last_taken"] in allowed


def test_stopping_a_medicine_keeps_its_earlier_version(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/medicines"
    headers = server.as_("patient")
    added = server.client.post(base, headers=headers, json={"text": "tramadol 50 mg"}).json()
    stopped = server.client.patch(f"{base}/{added['id']}", headers=headers,
                                  json={"stopped_on": "2025-06-01"})
    assert stopped.status_code == 200, stopped.text
    history = server.client.get(f"{base}/{added['id']}/history", headers=headers).json()
    assert [h["stopped_on"] for h in history] == [None, "2025-06-01"]


def test_unreadable_last_taken_is_422_naming_the_field(server: RecordServer) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/medicines"
    response = server.client.post(base, headers=server.as_("patient"),
                                  json={"text": "tramadol 50 mg", "last_taken": "yesterday"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["last_taken"]


# ---------------------------------------------------------------------------------- audit


@pytest.mark.parametrize(("persona", "outcome"), [("patient", "allowed"),
                                                  ("other_clinician", "denied")])
def test_each_record_request_is_audited_with_who_and_the_client_address(
        server: RecordServer, persona: str, outcome: str) -> None:
    url = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    server.client.post(url, json=CHECKIN, headers=server.as_(persona))
    with server.cast.db.transaction(write=False) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "checkin.record")).all()
        seen = [(e.actor_user_id, e.outcome, e.patient_id, e.source) for e in events]
    assert seen == [(server.cast.user(persona).id, outcome, server.cast.ids.alice,
                     "127.0.0.1")]


@pytest.mark.parametrize("sent", [5, 1748815200, True, ["2025-06-01"]],
                         ids=["small number", "epoch seconds", "boolean", "list"])
def test_last_taken_that_is_not_text_is_422_asking_for_a_date_not_a_time_zone(
        server: RecordServer, sent: Any) -> None:
    # §3.4 / §6: bad input is a specific error naming the field. A number is not read as
    # seconds since 1970 (which then failed as "give the local time without a time zone").
    base = f"/api/v1/patients/{server.cast.ids.alice}/medicines"
    response = server.client.post(base, headers=server.as_("patient"),
                                  json={"text": "tramadol 50 mg", "last_taken": sent})
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["last_taken"]
    assert "2025-06-01" in errors[0]["message"]
    assert "time zone" not in errors[0]["message"]
    assert server.client.get(base, headers=server.as_("patient")).json() == []


@pytest.mark.parametrize("send", [
    {"json": {"username": "alice", "password": PASSWORD}},
    {"content": b'{"username": "alice"}', "headers": {"content-type": "text/plain"}},
], ids=["json", "text"])
def test_signing_in_with_a_body_that_is_not_a_form_says_to_send_a_form(
        server: RecordServer, send: dict[str, Any]) -> None:
    # §3.4: the token takes an OAuth2 password *form*. Fields sent as JSON were reported as
    # "username: is required" although the username was sent; say what is wrong instead.
    response = server.client.post("/api/v1/auth/token", **send)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["body"]
    assert "application/x-www-form-urlencoded" in errors[0]["message"]
    assert server.login("alice").status_code == 200  # the form still signs in


@pytest.mark.parametrize("as_of", ["1900-01-01T09:00", "2300-01-01T09:00"],
                         ids=["before birth", "beyond a lifetime"])
def test_record_screen_at_a_time_outside_the_patients_life_blames_as_of_not_age(
        server: RecordServer, as_of: str) -> None:
    # §3.4 GET /patients/{id}/screen; errors name the field the caller sent. The stored birth
    # date is fine; the age it gives at `as_of` is not, so the error must point at `as_of`.
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    headers = server.as_("clinician")
    changed = server.client.patch(f"{base}/profile", headers=headers,
                                  json={"birth_date": "1973-04-01"})
    assert changed.status_code == 200, changed.text
    response = server.client.get(f"{base}/screen?as_of={as_of}", headers=headers)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["query.as_of"]
    assert "1973-04-01" in errors[0]["message"]
    assert server.client.get(f"{base}/screen?as_of=2025-06-02T09:00",
                             headers=headers).status_code == 200


@pytest.mark.parametrize(("grant_type", "status"), [("password", 200), ("client_credentials", 422),
                                                    ("refresh_token", 422)])
def test_sign_in_takes_only_the_password_grant(server: RecordServer, grant_type: str,
                                               status: int) -> None:
    # §3.4: an OAuth2 *password* form. A client asking for another grant must not be handed
    # a password-flow token as if its grant were supported; it is told which field is wrong.
    response = server.client.post("/api/v1/auth/token", data={
        "grant_type": grant_type, "username": "alice", "password": PASSWORD, "scope": ""})
    assert response.status_code == status, response.text
    if status == 422:
        assert [e["field"] for e in response.json()["errors"]] == ["grant_type"]
    else:
        assert response.json()["token_type"] == "bearer"


@pytest.mark.parametrize(("query", "expected"), [
    ("?from=&to=", ["2025-06-01", "2025-06-02"]),
    ("?from=2025-06-02&to=", ["2025-06-02"]),
    ("?from=&to=2025-06-01", ["2025-06-01"]),
])
def test_an_empty_from_or_to_is_no_bound(server: RecordServer, query: str,
                                         expected: list[str]) -> None:
    # §3.4: GET …/checkins?from=&to= — a client that fills in only one end (or neither)
    # sends the other empty; that means no bound there, not a 422 about an unreadable date.
    base = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    for day in ("2025-06-01", "2025-06-02"):
        server.client.post(base, json={**CHECKIN, "date": day}, headers=server.as_("patient"))
    listed = server.client.get(base + query, headers=server.as_("patient"))
    assert listed.status_code == 200, listed.text
    assert [c["date"] for c in listed.json()] == expected


def test_record_screen_at_the_very_start_of_the_calendar_is_422_naming_as_of(
        server: RecordServer) -> None:
    # §3.4: errors name the field the caller sent. Looking back from as_of (the hold before a
    # procedure, opioid intervals) runs before year 1; the error named "body", which a GET
    # does not have.
    base = f"/api/v1/patients/{server.cast.ids.alice}"
    headers = server.as_("clinician")
    added = server.client.post(f"{base}/procedures", headers=headers, json={
        "name": "knee", "at": "0001-01-02T08:00", "opioids_expected": True})
    assert added.status_code == 200, added.text
    response = server.client.get(f"{base}/screen?as_of=0001-01-01T00:00", headers=headers)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["query.as_of"]


@pytest.mark.parametrize(("body", "field", "message"), [
    ({**CHECKIN, "dose_taken": "yes"}, "dose_taken", "must be true or false"),
    ({**CHECKIN, "note": 5}, "note", "must be text"),
    ({**CHECKIN, "dose_mg": 60}, "dose_mg", "must be at most 50 mg"),
])
def test_a_bad_checkin_field_is_explained_in_words_not_type_names(
        server: RecordServer, body: dict[str, Any], field: str, message: str) -> None:
    base = f"/api/v1/patients/{server.cast.ids.alice}/checkins"
    response = server.client.post(base, json=body, headers=server.as_("patient"))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == field and message in error["message"]
