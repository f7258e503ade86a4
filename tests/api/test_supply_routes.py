"""Dispensed supplies over real HTTP, on SQLite and PostgreSQL: recorded and listed with their
refill-by date, refused with the field named, and turned into the calendar's refill reminder
(read back with an independent iCalendar parser)."""

# ruff: noqa: F811  (pytest fixtures are parameters named like the imported fixture)
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar
from icalendar.parser import unescape_backslash
from sqlalchemy import select

from api.test_records import RecordServer, server  # noqa: F401  (fixture used by name)
from lowdose.services import courses
from lowdose.services.calendar import NO_SUPPLY
from lowdose.services.supplies import NO_DOSE
from lowdose.store.models import AuditEvent
from persistence.conftest import backend, isolated_database, templates  # noqa: F401

# The server reads the real clock, so the plan is placed around today: its first step
# (1.5 mg, a week) started three days ago.
NOW = datetime.now(UTC)
STARTED = NOW.date() - timedelta(days=3)
CAPSULES = {"dispensed_on": STARTED.isoformat(), "form": "capsule", "quantity": 30,
            "strength": 1.5, "price": 45.0}


def url(server: RecordServer, path: str) -> str:
    return f"/api/v1/patients/{server.cast.ids.alice}{path}"


def plan(server: RecordServer) -> None:
    courses.start_course(server.cast.db, server.cast.ctx("clinician", now=NOW),
                         server.cast.ids.alice, started_on=STARTED,
                         first_plan=courses.PlanRequest(from_date=STARTED,
                                                        protocol="dartmouth-weekly"))


def refills(server: RecordServer) -> tuple[list[Any], str]:
    """The refill events of the patient's .ics file, and the calendar's description."""
    response = server.client.get(url(server, "/calendar.ics"), headers=server.as_("patient"))
    assert response.status_code == 200, response.text
    calendar = Calendar.from_ical(response.content)
    events = [e for e in calendar.walk("VEVENT") if str(e["X-LOWDOSE-KIND"]) == "refill"]
    # An X- property is TEXT (RFC 5545 §3.8.8.2), escaped; icalendar keeps it as written.
    return events, unescape_backslash(str(calendar.get("X-WR-CALDESC", "")))


def test_a_recorded_supply_comes_back_with_its_refill_date_and_is_audited(
        server: RecordServer) -> None:
    plan(server)
    added = server.client.post(url(server, "/supplies"), json=CAPSULES,
                               headers=server.as_("patient"))
    assert added.status_code == 200, added.text
    body = added.json()
    # 30 capsules, one a day from three days ago: gone in 27 days, ordered 7 days before.
    assert (body["dose_mg"], body["days_of_supply"]) == (1.5, 30)
    assert body["refill_by"] == (STARTED + timedelta(days=30 - 7)).isoformat()
    assert body["monthly_cost"] == pytest.approx(45.66, abs=0.01)
    listed = server.client.get(url(server, "/supplies"), headers=server.as_("clinician"))
    assert listed.status_code == 200
    assert listed.json() == [body]
    with server.cast.db.transaction(write=False) as session:
        actions = [(e.action, e.actor_user_id, e.patient_id, e.target) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("supply.%"))
            .order_by(AuditEvent.id))]
    assert actions == [
        ("supply.add", server.cast.user("patient").id, server.cast.ids.alice,
         f"supply:{body['id']}"),
        ("supply.list", server.cast.user("clinician").id, server.cast.ids.alice, None)]


def test_without_a_plan_the_supply_is_kept_but_no_refill_date_is_given(
        server: RecordServer) -> None:
    added = server.client.post(url(server, "/supplies"), json=CAPSULES,
                               headers=server.as_("patient"))
    assert added.status_code == 200
    assert (added.json()["refill_by"], added.json()["notes"]) == (None, [NO_DOSE])


@pytest.mark.parametrize(("change", "field"), [
    ({"form": "tablets"}, "form"),
    ({"quantity": 0}, "quantity"),
    ({"strength": -1}, "strength"),
    ({"quantity": 1e300}, "quantity"),
    ({"price": -5}, "price"),
    ({"dispensed_on": "2 June"}, "dispensed_on"),
    ({"dispensed_on": (NOW.date() + timedelta(days=2)).isoformat()}, "dispensed_on"),
    ({"colour": "white"}, "colour"),
])
def test_a_bad_supply_is_422_naming_the_field_and_nothing_is_stored(
        server: RecordServer, change: dict[str, Any], field: str) -> None:
    response = server.client.post(url(server, "/supplies"), json={**CAPSULES, **change},
                                  headers=server.as_("patient"))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert server.client.get(url(server, "/supplies"), headers=server.as_("patient")).json() == []


def test_the_calendar_reminds_of_the_refill_on_the_latest_supplys_refill_date(
        server: RecordServer) -> None:
    plan(server)
    events, description = refills(server)
    assert events == [] and NO_SUPPLY in description
    server.client.post(url(server, "/supplies"), json=CAPSULES, headers=server.as_("patient"))
    # A later dispensing of liquid (1 mg/mL, 1.5 mL a day): 30 mL is 20 days.
    today = NOW.date()
    latest = server.client.post(url(server, "/supplies"), json={
        "dispensed_on": today.isoformat(), "form": "liquid", "quantity": 30, "strength": 1},
        headers=server.as_("clinician")).json()
    refill_on = today + timedelta(days=20 - 7)
    assert latest["refill_by"] == refill_on.isoformat()
    events, description = refills(server)
    [event] = events
    assert event["DTSTART"].dt == refill_on and isinstance(event["DTSTART"].dt, date)
    assert str(event["SUMMARY"]) == "Refill due"
    assert "No refill" not in description


def test_a_supply_the_dose_cannot_count_down_says_so_in_the_calendar(
        server: RecordServer) -> None:
    server.client.post(url(server, "/supplies"), json=CAPSULES, headers=server.as_("patient"))
    events, description = refills(server)
    assert events == []
    assert "the daily dose" in description and NO_SUPPLY not in description

