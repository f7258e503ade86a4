"""Dispensed supplies over real HTTP, on SQLite and PostgreSQL: recorded and listed with their
refill-by date, refused with the field named, and turned into the calendar's refill reminder
(read back with an independent iCalendar parser)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import select

from lowdose.api.app import create_app
from lowdose.services import courses
from lowdose.services.calendar import NO_SUPPLY
from lowdose.services.supplies import NO_DOSE
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

# The server reads the real clock, so the plan is placed around today: its first step
# (1.5 mg, a week) started three days ago.
NOW = datetime.now(UTC)
STARTED = NOW.date() - timedelta(days=3)
CAPSULES = {"dispensed_on": STARTED.isoformat(), "form": "capsule", "quantity": 30,
            "strength": 1.5, "price": 45.0}


@dataclass
class Server:
    client: httpx.Client
    cast: Cast
    tokens: dict[str, str]

    def as_(self, persona: str) -> dict[str, str]:
        if persona not in self.tokens:
            response = self.client.post("/api/v1/auth/token", data={
                "username": self.cast.user(persona).username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[persona] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[persona]}"}

    def url(self, path: str) -> str:
        return f"/api/v1/patients/{self.cast.ids.alice}{path}"

    def plan(self) -> None:
        courses.start_course(self.cast.db, self.cast.ctx("clinician", now=NOW),
                             self.cast.ids.alice, started_on=STARTED,
                             first_plan=courses.PlanRequest(from_date=STARTED,
                                                            protocol="dartmouth-weekly"))

    def refills(self) -> tuple[list[Any], str]:
        """The refill events of the patient's .ics file, and the calendar's description."""
        response = self.client.get(self.url("/calendar.ics"), headers=self.as_("patient"))
        assert response.status_code == 200, response.text
        calendar = Calendar.from_ical(response.content)
        events = [e for e in calendar.walk("VEVENT") if str(e["X-LOWDOSE-KIND"]) == "refill"]
        return events, str(calendar.get("X-WR-CALDESC", ""))


@pytest.fixture
def server(isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
           serve_app: Callable[[Any], Any], tmp_path: Path) -> Iterator[Server]:
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    settings = Settings(mode="development", data_dir=tmp_path / "data", database_url=url,
                        secret_key="test-secret", hold_hours=None)
    database = Database(url)
    with serve_app(create_app(settings)) as base, \
            httpx.Client(base_url=base, timeout=20) as client:
        yield Server(client, Cast(database, ids), {})
    database.dispose()


def test_a_recorded_supply_comes_back_with_its_refill_date_and_is_audited(
        server: Server) -> None:
    server.plan()
    added = server.client.post(server.url("/supplies"), json=CAPSULES,
                               headers=server.as_("patient"))
    assert added.status_code == 200, added.text
    body = added.json()
    # 30 capsules, one a day from three days ago: gone in 27 days, ordered 7 days before.
    assert (body["dose_mg"], body["days_of_supply"]) == (1.5, 30)
    assert body["refill_by"] == (STARTED + timedelta(days=30 - 7)).isoformat()
    assert body["monthly_cost"] == pytest.approx(45.66, abs=0.01)
    listed = server.client.get(server.url("/supplies"), headers=server.as_("clinician"))
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


def test_without_a_plan_the_supply_is_kept_but_no_refill_date_is_given(server: Server) -> None:
    added = server.client.post(server.url("/supplies"), json=CAPSULES,
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
        server: Server, change: dict[str, Any], field: str) -> None:
    response = server.client.post(server.url("/supplies"), json={**CAPSULES, **change},
                                  headers=server.as_("patient"))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert server.client.get(server.url("/supplies"), headers=server.as_("patient")).json() == []


def test_the_calendar_reminds_of_the_refill_on_the_latest_supplys_refill_date(
        server: Server) -> None:
    server.plan()
    events, description = server.refills()
    assert events == [] and NO_SUPPLY in description
    server.client.post(server.url("/supplies"), json=CAPSULES, headers=server.as_("patient"))
    # A later dispensing of liquid (1 mg/mL, 1.5 mL a day): 30 mL is 20 days.
    today = NOW.date()
    latest = server.client.post(server.url("/supplies"), json={
        "dispensed_on": today.isoformat(), "form": "liquid", "quantity": 30, "strength": 1},
        headers=server.as_("clinician")).json()
    refill_on = today + timedelta(days=20 - 7)
    assert latest["refill_by"] == refill_on.isoformat()
    events, description = server.refills()
    [event] = events
    assert event["DTSTART"].dt == refill_on and isinstance(event["DTSTART"].dt, date)
    assert str(event["SUMMARY"]) == "Refill due"
    assert "No refill" not in description


def test_a_supply_the_dose_cannot_count_down_says_so_in_the_calendar(server: Server) -> None:
    server.client.post(server.url("/supplies"), json=CAPSULES, headers=server.as_("patient"))
    events, description = server.refills()
    assert events == []
    assert "the daily dose" in description and NO_SUPPLY not in description

