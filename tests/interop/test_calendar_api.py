"""The calendar of a stored record over real HTTP and from the command line, on SQLite and
PostgreSQL: the signed-in .ics file, secret feed URLs (shown once, stored hashed, listed without
their secret, revocable, audited), calendar preferences, and `lowdose calendar`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
import recurring_ical_events
from icalendar import Calendar
from sqlalchemy import select

from lowdose.api.app import create_app
from lowdose.core.nof1 import Arm
from lowdose.services import accounts, careteams, courses, nof1, procedures
from lowdose.settings import Settings
from lowdose.store import Database
from lowdose.store.models import AuditEvent, CalendarFeed
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    Cast,
    CastIds,
    backend,
    isolated_database,
    templates,
)

START = date(2025, 6, 2)
SURGERY = datetime(2025, 6, 20, 8, 0)
TOKEN = re.compile(r"^ldc_[A-Za-z0-9_-]{43}$")


@dataclass
class Running:
    client: httpx.Client
    cast: Cast
    db_url: str
    tokens: dict[str, str]

    def as_(self, persona: str) -> dict[str, str]:
        if persona not in self.tokens:
            response = self.client.post("/api/v1/auth/token", data={
                "username": self.cast.user(persona).username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[persona] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[persona]}"}

    def url(self, path: str = "", patient: int | None = None) -> str:
        return f"/api/v1/patients/{patient or self.cast.ids.alice}{path}"

    def audit(self, action: str) -> list[AuditEvent]:
        with self.cast.db.transaction(write=False) as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                        .order_by(AuditEvent.id)).all())


@pytest.fixture
def running(isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
            serve_app: Callable[[Any], Any], tmp_path: Path) -> Iterator[Running]:
    """A real server over the cast; Alice has a weekly plan from 2 June 2025 (1.5, 3, then
    4.5 mg at 22:00) and knee surgery with opioids expected on 20 June at 08:00."""
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    cast = Cast(Database(url), ids)
    carol = cast.ctx("clinician")
    courses.start_course(cast.db, carol, ids.alice, started_on=START,
                         first_plan=courses.PlanRequest(from_date=START,
                                                        protocol="dartmouth-weekly"))
    procedures.add_procedure(cast.db, carol, ids.alice, name="knee replacement", at=SURGERY,
                             opioids_expected=True)
    settings = Settings(mode="development", data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret", hold_hours=None)
    with serve_app(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=20) as client:
        yield Running(client, cast, url, {})
    cast.db.dispose()


def doses(ics: bytes) -> list[tuple[datetime, str]]:
    """The dose reminders of an .ics file, expanded by an independent library."""
    calendar = Calendar.from_ical(ics)
    found = [(e["DTSTART"].dt.replace(tzinfo=None), str(e["SUMMARY"]))
             for e in recurring_ical_events.of(calendar).between(date(2025, 5, 1),
                                                                 date(2025, 9, 1))
             if str(e["X-LOWDOSE-KIND"]) == "dose"]
    return sorted(found)


def alices_plan(running: Running) -> list[tuple[datetime, str]]:
    """Alice's stored plan, day by day, up to the last dose before surgery (16 June 22:00:
    72 hours before 20 June 08:00)."""
    stored = courses.plan_versions(running.cast.db, running.cast.ctx("clinician"),
                                   running.cast.ids.alice, courses.list_courses(
                                       running.cast.db, running.cast.ctx("clinician"),
                                       running.cast.ids.alice)[0].id)[-1].plan
    days = []
    day = START
    while day <= date(2025, 6, 16):
        step = next(s for s in stored["steps"] if date.fromisoformat(s["from"]) <= day
                    and (s["to"] is None or day <= date.fromisoformat(s["to"])))
        clock = datetime.strptime(step["time"], "%H:%M").time()
        days.append((datetime.combine(day, clock), f"Evening dose {step['dose_mg']:g} mg"))
        day += timedelta(days=1)
    return days


# ---------------------------------------------------------------------- the .ics file


def test_the_signed_in_calendar_is_the_stored_plan_as_an_ics_file(running: Running) -> None:
    response = running.client.get(running.url("/calendar.ics"), headers=running.as_("patient"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in response.headers["cache-control"]
    assert doses(response.content) == alices_plan(running)
    calendar = Calendar.from_ical(response.content)
    kinds = sorted(str(e["X-LOWDOSE-KIND"]) for e in calendar.walk("VEVENT"))
    assert kinds == ["dose"] * 3 + ["last-dose", "restart", "surgery"]
    # No supply on the record: no refill entries, and the calendar says why.
    assert "No refill reminders" in str(calendar["X-WR-CALDESC"])
    [event] = running.audit("calendar.export")
    assert (event.actor_user_id, event.patient_id, event.outcome) == (
        running.cast.user("patient").id, running.cast.ids.alice, "allowed")


def test_a_planned_n_of_1_comparison_shows_its_days_in_the_calendar(running: Running) -> None:
    cast = running.cast
    nof1.create_comparison(cast.db, cast.ctx("clinician"), cast.ids.alice, nof1.ComparisonRequest(
        a=Arm(3.0, time(22)), b=Arm(4.5, time(22)), starts_on=date(2025, 7, 1), blocks=2,
        period_days=7, run_in_days=2), seed=11)
    days = nof1.schedule(cast.db, cast.ctx("clinician"), cast.ids.alice)
    ics = running.client.get(running.url("/calendar.ics"), headers=running.as_("patient")).content
    # The plan's doses stopped for surgery; the comparison, dated after it, runs as planned.
    assert doses(ics) == alices_plan(running) + [
        (datetime.combine(d.date, d.dose_time), f"Evening dose {d.dose_mg:g} mg, comparison "
                                                f"{d.arm}") for d in days]


def test_the_file_needs_a_sign_in_and_a_care_relation(running: Running) -> None:
    assert running.client.get(running.url("/calendar.ics")).status_code == 401
    for persona in ("second_patient", "outsider", "other_clinician", "admin"):
        answer = running.client.get(running.url("/calendar.ics"), headers=running.as_(persona))
        assert answer.status_code in (403, 404), persona
        assert answer.headers["content-type"] == "application/problem+json"
    assert [e.outcome for e in running.audit("calendar.export")] == ["denied"] * 4


# -------------------------------------------------------------------------- feed URLs


def test_a_feed_url_is_shown_once_holds_no_patient_data_and_needs_no_sign_in(
        running: Running) -> None:
    made = running.client.post(running.url("/calendar/feeds"), json={"label": "phone"},
                               headers=running.as_("patient"))
    assert made.status_code == 200
    token, url = made.json()["token"], made.json()["url"]
    assert TOKEN.match(token)
    # The address is the server, /calendar/ and the random secret: no id, name or date.
    assert urlsplit(url).path == f"/calendar/{token}.ics"
    assert "alice" not in url.lower() and "patients" not in url
    feed = running.client.get(url)
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    signed_in = running.client.get(running.url("/calendar.ics"),
                                   headers=running.as_("patient")).content
    assert doses(feed.content) == doses(signed_in) == alices_plan(running)
    uids = sorted(str(e["UID"]) for e in Calendar.from_ical(feed.content).walk("VEVENT"))
    assert uids == sorted(str(e["UID"]) for e in Calendar.from_ical(signed_in).walk("VEVENT"))
    # Listed with creation and last use, never with the secret; stored only as its hash.
    listed = running.client.get(running.url("/calendar/feeds"), headers=running.as_("clinician"))
    [entry] = listed.json()
    assert token not in listed.text and hashlib.sha256(token.encode()).hexdigest() \
        not in listed.text
    assert entry["label"] == "phone" and entry["active"] is True
    assert entry["created_at"] and entry["last_used_at"] >= entry["created_at"]
    with running.cast.db.transaction(write=False) as session:
        stored = session.scalars(select(CalendarFeed)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    [read] = running.audit("calendar.feed.read")
    assert (read.actor_user_id, read.patient_id, read.target, read.outcome) == (
        running.cast.user("patient").id, running.cast.ids.alice,
        f"calendar-feed:{entry['id']}", "allowed")


def test_a_revoked_feed_answers_404_from_then_on(running: Running) -> None:
    made = running.client.post(running.url("/calendar/feeds"),
                               headers=running.as_("clinician")).json()
    assert running.client.get(made["url"]).status_code == 200
    revoked = running.client.delete(running.url(f"/calendar/feeds/{made['id']}"),
                                    headers=running.as_("patient"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    gone = running.client.get(made["url"])
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert "alice" not in gone.text.lower()
    again = running.client.delete(running.url(f"/calendar/feeds/{made['id']}"),
                                  headers=running.as_("patient"))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    reads = running.audit("calendar.feed.read")
    assert [(e.outcome, e.target) for e in reads] == [
        ("allowed", f"calendar-feed:{made['id']}"), ("denied", f"calendar-feed:{made['id']}")]


def test_unknown_addresses_answer_404_and_are_audited(running: Running) -> None:
    for token in ("ldc_" + "A" * 43, "not-a-feed", "ldc_"):
        assert running.client.get(f"/calendar/{token}.ics").status_code == 404
    assert [e.outcome for e in running.audit("calendar.feed.read")] == ["denied"] * 3


def test_nobody_else_reads_lists_or_revokes_a_patients_feeds(running: Running) -> None:
    made = running.client.post(running.url("/calendar/feeds"),
                               headers=running.as_("patient")).json()
    for persona in ("second_patient", "outsider", "other_clinician"):
        headers = running.as_(persona)
        assert running.client.get(running.url("/calendar/feeds"),
                                  headers=headers).status_code == 404
        assert running.client.delete(running.url(f"/calendar/feeds/{made['id']}"),
                                     headers=headers).status_code == 404
        assert running.client.post(running.url("/calendar/feeds"),
                                   headers=headers).status_code == 404
    # Bob's own feed is Bob's calendar (he has no plan), not Alice's.
    bobs = running.client.post(running.url("/calendar/feeds", running.cast.ids.bob),
                               headers=running.as_("second_patient")).json()
    assert doses(running.client.get(bobs["url"]).content) == []
    # Feed ids are per patient: Alice's feed is not Bob's to revoke through his own record.
    assert running.client.delete(running.url(f"/calendar/feeds/{made['id']}",
                                             running.cast.ids.bob),
                                 headers=running.as_("second_patient")).status_code == 404
    assert running.client.get(made["url"]).status_code == 200


def test_a_feed_stops_when_its_maker_loses_access_to_the_patient(running: Running) -> None:
    made = running.client.post(running.url("/calendar/feeds"),
                               headers=running.as_("clinician")).json()
    assert running.client.get(made["url"]).status_code == 200
    cast = running.cast
    careteams.remove_member(cast.db, cast.ctx("admin"), cast.ids.team_a,
                            cast.user("clinician").id)
    assert running.client.get(made["url"]).status_code == 404
    assert running.audit("calendar.feed.read")[-1].outcome == "denied"


# ------------------------------------------------------------------------ preferences


def test_a_time_zone_pins_the_times_and_a_wrong_one_is_named(running: Running) -> None:
    url, headers = running.url("/calendar/preferences"), running.as_("patient")
    assert running.client.get(url, headers=headers).json() == {
        "patient_id": running.cast.ids.alice, "timezone": None, "medicine_names": False}
    wrong = running.client.patch(url, json={"timezone": "Mars/Olympus_Mons"}, headers=headers)
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["timezone"]
    assert running.client.get(url, headers=headers).json()["timezone"] is None
    changed = running.client.patch(url, json={"timezone": "America/New_York"}, headers=headers)
    assert changed.json()["timezone"] == "America/New_York"
    ics = running.client.get(running.url("/calendar.ics"), headers=headers).content
    calendar = Calendar.from_ical(ics)
    assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert doses(ics) == alices_plan(running)  # 22:00 on the patient's clock
    first = min(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    assert first["DTSTART"].dt.utcoffset() == timedelta(hours=-4)


def test_the_medicine_is_named_only_after_the_patient_opts_in(running: Running) -> None:
    headers = running.as_("patient")
    hidden = running.client.get(running.url("/calendar.ics"), headers=headers).content
    assert b"naltrexone" not in hidden.lower() and b"ldn" not in hidden.lower()
    assert b"knee" not in hidden.lower()
    running.client.patch(running.url("/calendar/preferences"), json={"medicine_names": True},
                         headers=headers)
    shown = Calendar.from_ical(running.client.get(running.url("/calendar.ics"),
                                                  headers=headers).content)
    assert any("naltrexone" in str(e["DESCRIPTION"]).lower() for e in shown.walk("VEVENT"))
    assert not any(word in str(e["SUMMARY"]).lower() for e in shown.walk("VEVENT")
                   for word in ("naltrexone", "ldn", "knee"))


def test_only_the_patient_and_their_clinician_change_preferences(running: Running) -> None:
    url = running.url("/calendar/preferences")
    for persona, status in (("patient", 200), ("clinician", 200), ("team_admin", 403),
                            ("second_patient", 404)):
        answer = running.client.patch(url, json={"medicine_names": False},
                                      headers=running.as_(persona))
        assert answer.status_code == status, persona


# ----------------------------------------------------------------------- command line


def test_lowdose_calendar_writes_the_file_as_a_signed_in_user(
        running: Running, lowdose: Callable[..., Any], tmp_path: Path) -> None:
    out = tmp_path / "plan.ics"
    alice = str(running.cast.ids.alice)
    done = lowdose("calendar", alice, "--out", str(out), "--as", "alice", "--json",
                   "--database-url", running.db_url, env={"LOWDOSE_PASSWORD": PASSWORD})
    assert done.code == 0, done.stderr
    assert done.json()["file"] == str(out)
    assert doses(out.read_bytes()) == alices_plan(running)
    [event] = running.audit("calendar.export")
    assert (event.actor_user_id, event.source) == (running.cast.user("patient").id, "cli")


@pytest.mark.parametrize(("args", "env", "field"), [
    ((), {"LOWDOSE_PASSWORD": PASSWORD}, "--as"),
    (("--as", "alice"), {}, "--as"),
    (("--as", "alice"), {"LOWDOSE_PASSWORD": "not the password"}, "--as"),
    (("--as", "bob"), {"LOWDOSE_PASSWORD": PASSWORD}, "PATIENT"),
], ids=["operator", "no password", "wrong password", "another patient"])
def test_lowdose_calendar_refuses_without_a_user_who_may_read_the_record(
        running: Running, lowdose: Callable[..., Any], tmp_path: Path,
        args: tuple[str, ...], env: dict[str, str], field: str) -> None:
    out = tmp_path / "plan.ics"
    done = lowdose("calendar", str(running.cast.ids.alice), "--out", str(out), *args,
                   "--database-url", running.db_url, env=env)
    assert done.code == 1
    assert done.stderr.startswith(f"error: {field}:")
    assert not out.exists()


def test_lowdose_calendar_asks_for_the_code_of_a_user_with_two_factor_sign_in(
        running: Running, lowdose: Callable[..., Any], tmp_path: Path) -> None:
    carol = running.cast.ctx("clinician")
    enrolment = accounts.start_totp(running.cast.db, carol)
    accounts.confirm_totp(running.cast.db, carol, pyotp.TOTP(enrolment.secret).at(carol.now))
    done = lowdose("calendar", str(running.cast.ids.alice), "--out", str(tmp_path / "p.ics"),
                   "--as", "carol", "--database-url", running.db_url,
                   env={"LOWDOSE_PASSWORD": PASSWORD})
    assert done.code == 1
    assert done.stderr.startswith("error: --code:")
