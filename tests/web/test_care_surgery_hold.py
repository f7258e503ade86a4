"""The surgery page (real HTTP, SQLite and PostgreSQL): the hold counts real hours in the
patient's time zone, "not sure" about opioids still gets the hold, "no" gets none."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lowdose.knowledge.regimens import load_perioperative_facts
from lowdose.services import calendar
from web.conftest import Site, csrf_of

NEW_YORK = ZoneInfo("America/New_York")
DOSE_TIME = load_perioperative_facts().default_dose_time  # no plan: the bedtime dose


def post(client, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/offline").text)
    return client.post(path, data={**data, "csrf_token": token})


def next_spring_forward() -> date:
    """The next day New York's clocks go forward, at least a week from today (the pages run
    on the real clock)."""
    day = datetime.now(UTC).date() + timedelta(days=7)
    while (datetime.combine(day + timedelta(days=1), DOSE_TIME, NEW_YORK).utcoffset()
           == datetime.combine(day, DOSE_TIME, NEW_YORK).utcoffset()):
        day += timedelta(days=1)
    return day + timedelta(days=1)


@pytest.mark.parametrize(("zone", "days_before"), [("America/New_York", 4), (None, 3)])
def test_a_spring_forward_night_inside_the_hold_does_not_shorten_it(
    site: Site, zone: str | None, days_before: int
) -> None:
    # Half an hour after the dose time, three days later, is 72.5 hours on the clock face but
    # 71.5 real hours across the change: in New York the dose a day earlier is the last.
    surgery = datetime.combine(next_spring_forward() + timedelta(days=1), DOSE_TIME) \
        + timedelta(minutes=30)
    calendar.set_preferences(site.cast.db, site.cast.ctx("patient"), site.cast.ids.alice,
                             timezone=zone)
    with site.signed_in("patient") as client:
        added = post(client, "/surgery", {"name": "hip replacement",
                                          "at": surgery.isoformat(timespec="minutes"),
                                          "opioids_expected": "yes"})
        assert added.status_code == 303
        page = client.get("/surgery").text
    last = datetime.combine(surgery.date() - timedelta(days=days_before), DOSE_TIME)
    assert f"<strong>{last.isoformat(sep=' ', timespec='minutes')}</strong>" in page


@pytest.mark.parametrize(("answer", "held", "said"), [
    ("", True, "it applies if opioids are used"),
    ("no", False, "no LDN hold is planned"),
    ("yes", True, "Take your last dose by"),
])
def test_only_a_clear_no_to_opioids_leaves_out_the_hold(
    site: Site, answer: str, held: bool, said: str
) -> None:
    when = (datetime.now(UTC).date() + timedelta(days=10)).isoformat() + "T08:00"
    with site.signed_in("patient") as client:
        post(client, "/surgery", {"name": "knee replacement", "at": when,
                                  "opioids_expected": answer})
        page = client.get("/surgery").text
    assert " ".join(said.split()) in " ".join(page.split())
    assert ("Take your last dose by" in page) == held
    assert ("Note for the surgical team" in page) == held
