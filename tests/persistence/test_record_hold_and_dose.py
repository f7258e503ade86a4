"""The stored record's screen and calendar (SQLite and PostgreSQL): the 72-hour hold counts real
hours in the patient's time zone, a procedure not known to need opioids still gets the hold,
and a dose a clinician set above the usual ceiling is not flagged as if nobody reviewed it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from icalendar import Calendar

from lowdose.core.screening import LdnUse, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.services import calendar, courses, procedures, reports, screening
from lowdose.services.courses import PlanRequest

from .conftest import Cast

# New York clocks went forward on 2025-03-09: Friday 08:00 to Monday 08:00 is 72 hours on the
# clock face but 71 real hours, short of the hold, so Thursday's morning dose is the last.
SURGERY = datetime(2025, 3, 10, 8, 0)
AS_OF = datetime(2025, 3, 1, 9, 0)
NOW = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)  # 09:00 in New York


def _morning_plan_and_surgery(cast: Cast, opioids_expected: bool | None = True) -> None:
    clinician, alice = cast.ctx("clinician"), cast.ids.alice
    courses.start_course(cast.db, clinician, alice, started_on=date(2025, 2, 1),
                         first_plan=PlanRequest(from_date=date(2025, 2, 1), start_mg=4.5,
                                                target_mg=4.5, timing="morning"))
    procedures.add_procedure(cast.db, clinician, alice, name="hip replacement", at=SURGERY,
                             opioids_expected=opioids_expected)


def _last_dose_in_calendar(cast: Cast) -> datetime | None:
    ics = calendar.export_calendar(cast.db, cast.ctx("patient", now=NOW), cast.ids.alice).ics
    found = [e["DTSTART"].dt for e in Calendar.from_ical(ics).walk("VEVENT")
             if str(e["X-LOWDOSE-KIND"]) == "last-dose"]
    return found[0].replace(tzinfo=None) if found else None


@pytest.mark.parametrize(("zone", "last_dose_by"), [
    ("America/New_York", datetime(2025, 3, 6, 8, 0)),
    (None, datetime(2025, 3, 7, 8, 0)),  # no zone on the record: clock hours, as before
])
def test_the_record_hold_counts_real_hours_in_the_patients_time_zone(
    cast: Cast, zone: str | None, last_dose_by: datetime
) -> None:
    _morning_plan_and_surgery(cast)
    calendar.set_preferences(cast.db, cast.ctx("patient"), cast.ids.alice, timezone=zone)
    found = screening.screen_patient(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                     as_of=AS_OF).result
    assert found.perioperative is not None
    assert found.perioperative.last_dose_by == last_dose_by
    assert _last_dose_in_calendar(cast) == last_dose_by
    # The visit report shows the same hold, read at the same moment.
    report = reports.visit_report_model(cast.db, cast.ctx("clinician", now=NOW), cast.ids.alice)
    assert [e.at for e in report.events if e.kind == "hold"] == [last_dose_by]


@pytest.mark.parametrize(("opioids_expected", "held"), [(None, True), (True, True),
                                                        (False, False)])
def test_a_procedure_not_known_to_need_opioids_gets_the_hold(
    cast: Cast, opioids_expected: bool | None, held: bool
) -> None:
    _morning_plan_and_surgery(cast, opioids_expected)
    found = screening.screen_patient(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                     as_of=AS_OF).result
    assert (found.perioperative is not None) == held
    assert ("perioperative-hold" in [f.code for f in found.findings]) == held
    assert (_last_dose_in_calendar(cast) is not None) == held


def test_a_dose_a_clinician_set_above_the_ceiling_is_not_flagged_again(cast: Cast) -> None:
    clinician, alice = cast.ctx("clinician"), cast.ids.alice
    courses.start_course(
        cast.db, clinician, alice, started_on=date(2025, 5, 1),
        first_plan=PlanRequest(from_date=date(2025, 5, 1), start_mg=4.5, step_mg=1.5,
                               every_days=7, target_mg=6, clinician_override=True))
    found = screening.screen_patient(cast.db, cast.ctx("patient"), alice,
                                     as_of=datetime(2025, 5, 20, 9, 0))
    assert found.profile.ldn is not None and found.profile.ldn.dose_mg == 6
    assert "ldn-dose-above-ceiling" not in [f.code for f in found.result.findings]
    assert found.result.verdict == "ok"


@pytest.mark.parametrize(("approved_mg", "flagged"), [(None, True), (5.0, True), (6.0, False)])
def test_only_a_dose_up_to_the_approved_one_passes_without_a_prescriber(
    approved_mg: float | None, flagged: bool
) -> None:
    result = screen(Profile(as_of=AS_OF, ldn=LdnUse(dose_mg=6, approved_mg=approved_mg)),
                    load_screening_knowledge())
    assert ("ldn-dose-above-ceiling" in [f.code for f in result.findings]) == flagged



def test_now_is_read_in_the_patients_time_zone(cast: Cast) -> None:
    # 13:00 UTC on Thursday is 08:00 in New York, the time of the last dose before the hold:
    # still in time there, though 13:00 on the clock would have missed it.
    _morning_plan_and_surgery(cast)
    calendar.set_preferences(cast.db, cast.ctx("patient"), cast.ids.alice,
                             timezone="America/New_York")
    thursday = cast.ctx("patient", now=datetime(2025, 3, 6, 13, 0, tzinfo=UTC))
    found = screening.screen_patient(cast.db, thursday, cast.ids.alice)
    assert found.profile.as_of == datetime(2025, 3, 6, 8, 0)
    assert "perioperative-hold" in [f.code for f in found.result.findings]
