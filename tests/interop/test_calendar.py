"""The plan as iCalendar, checked by independent libraries: the file is parsed back with
`icalendar` and its recurrences expanded with `recurring-ical-events`, and every dose date and
time, the surgery hold and the restart reminder must be exactly what the plan says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from lowdose.core.formulation import formulate
from lowdose.core.nof1 import Arm, plan_comparison
from lowdose.core.titration import Plan, plan
from lowdose.errors import InputError
from lowdose.interop.calendar import (
    PRODID,
    ComparisonDay,
    CoursePlans,
    PlanVersionSteps,
    Refill,
    Surgery,
    schedule,
    to_calendar,
)
from lowdose.knowledge.regimens import (
    load_formulation_facts,
    load_perioperative_facts,
    load_titration_facts,
)

STAMP = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
AS_OF = datetime(2025, 6, 1, 9, 0)
ZONES = (None, "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
         "Pacific/Auckland")
MEDICINE_WORDS = ("naltrexone", "ldn")


def a_plan(from_date: date, **kwargs: object) -> Plan:
    return plan(from_date=from_date, facts=load_titration_facts(), **kwargs)  # type: ignore[arg-type]


def build(courses: Sequence[CoursePlans], surgeries: Sequence[Surgery] = (),
          refills: Sequence[Refill] = (), *, hold_hours: float = 72,
          timezone: str | None = None, medicine_names: bool = False,
          comparison: Sequence[ComparisonDay] = ()) -> Calendar:
    """Write the calendar to bytes and parse it back: tests only see what a client sees."""
    made = schedule(courses, surgeries, refills, hold_hours=hold_hours, as_of=AS_OF,
                    facts=load_perioperative_facts(), comparison=comparison)
    written = to_calendar(made, stamp=STAMP, timezone=timezone,
                          medicine_names=medicine_names).to_ical()
    return Calendar.from_ical(written)


def occurrences(calendar: Calendar, start: date, end: date,
                kind: str) -> list[tuple[datetime, str]]:
    """(local wall-clock time, title) of each expanded occurrence of one kind of entry."""
    found = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        if str(event.get("X-LOWDOSE-KIND")) != kind:
            continue
        moment = event["DTSTART"].dt
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            # The instant must be that wall-clock time in the patient's zone.
            zone = ZoneInfo(str(calendar["X-WR-TIMEZONE"]))
            wall = moment.astimezone(zone).replace(tzinfo=None)
            assert moment.utcoffset() == zone.utcoffset(wall) or \
                moment.astimezone(zone) == moment
            moment = wall
        found.append((moment, str(event["SUMMARY"])))
    return sorted(found)


def comparison_days(a: Arm, b: Arm, start: date, *, seed: int = 7, blocks: int = 2,
                    period_days: int = 7) -> list[ComparisonDay]:
    """The days of a core n-of-1 schedule, as `services.nof1.schedule` lists them."""
    plan_ = plan_comparison(a, b, start=start, blocks=blocks, period_days=period_days,
                            run_in_days=2, seed=seed)
    days = []
    for period in plan_.periods:
        arm = a if period.arm == "A" else b
        days += [ComparisonDay(period.first + timedelta(days=n), arm.dose_mg, arm.dose_time,
                               period.arm) for n in range((period.last - period.first).days + 1)]
    return days


def course(course_id: int, started_on: date, *plans: Plan,
           ended_on: date | None = None) -> CoursePlans:
    return CoursePlans(course_id, started_on, ended_on,
                       tuple(PlanVersionSteps(i + 1, p.steps) for i, p in enumerate(plans)))


# ------------------------------------------------------------------- the oracle


@dataclass(frozen=True)
class Expected:
    """What the plan says, day by day, written straight from the rules (not from the code
    under test): the newest version begun by a day rules it, within the course; a hold stops
    the doses after its last dose for plans dated up to the surgery day."""

    courses: Sequence[CoursePlans]
    surgeries: Sequence[Surgery]
    hold_hours: float
    dose_time: time
    comparison: Sequence[ComparisonDay] = ()

    def last_dose_by(self, surgery: Surgery) -> datetime:
        latest = surgery.at - timedelta(hours=self.hold_hours)
        dose = datetime.combine(latest.date(), self.dose_time)
        return dose if dose <= latest else dose - timedelta(days=1)

    def restart_at(self, surgery: Surgery) -> datetime:
        dose = datetime.combine(surgery.at.date(), self.dose_time)
        return dose if dose > surgery.at else dose + timedelta(days=1)

    def doses(self, start: date, end: date) -> list[tuple[datetime, float]]:
        found = []
        day = start
        taken_over = {d.day: d for d in self.comparison}
        compared_from = min(taken_over, default=None)
        while day < end:
            if day in taken_over:
                moment = datetime.combine(day, taken_over[day].time)
                if compared_from is not None and not any(
                        compared_from <= s.at.date() and moment > self.last_dose_by(s)
                        for s in self.surgeries):
                    found.append((moment, taken_over[day].dose_mg))
                day += timedelta(days=1)
                continue
            for c in self.courses:
                if day < c.started_on or (c.ended_on is not None and day > c.ended_on):
                    continue
                begun = [v for v in c.versions if v.steps and v.starts <= day]
                if not begun:
                    continue
                ruling = max(begun, key=lambda v: v.version)
                step = next((s for s in ruling.steps
                             if s.start <= day and (s.end is None or day <= s.end)), None)
                if step is None or step.dose_mg == 0:
                    continue
                moment = datetime.combine(day, step.time)
                if any(ruling.starts <= s.at.date() and moment > self.last_dose_by(s)
                       for s in self.surgeries):
                    continue
                found.append((moment, step.dose_mg))
            day += timedelta(days=1)
        return found


def dose_of(title: str) -> float:
    # "Evening dose 1.5 mg (0.3 mL)" → 1.5
    return float(title.split(" dose ")[1].split(" mg")[0])


# ------------------------------------------------------------------------ examples


def test_each_step_repeats_daily_at_the_dose_time_until_it_ends() -> None:
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    calendar = build([course(1, date(2025, 6, 2), weekly)], timezone="Europe/Berlin")
    doses = occurrences(calendar, date(2025, 6, 1), date(2025, 7, 1), "dose")
    assert doses[:8] == [(datetime(2025, 6, d, 22, 0), "Evening dose 1.5 mg")
                         for d in range(2, 9)] + [(datetime(2025, 6, 9, 22), "Evening dose 3 mg")]
    assert [title for _, title in doses].count("Evening dose 3 mg") == 7
    # The last step lasts until the plan changes: still there a year on.
    later = occurrences(calendar, date(2026, 6, 1), date(2026, 6, 3), "dose")
    assert later == [(datetime(2026, 6, 1, 22), "Evening dose 4.5 mg"),
                     (datetime(2026, 6, 2, 22), "Evening dose 4.5 mg")]


def test_the_calendar_carries_what_rfc_5545_requires_and_a_zone_for_the_times() -> None:
    weekly = a_plan(date(2025, 3, 24), protocol="dartmouth-weekly")
    calendar = build([course(7, date(2025, 3, 24), weekly)], timezone="Europe/Berlin")
    assert (str(calendar["VERSION"]), str(calendar["PRODID"])) == ("2.0", PRODID)
    zones = [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")]
    assert zones == ["Europe/Berlin"]
    events = calendar.walk("VEVENT")
    assert len({str(e["UID"]) for e in events}) == len(events) == 3
    for event in events:
        assert event["DTSTAMP"].dt == STAMP
        assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
        alarms = event.walk("VALARM")
        assert [str(a["ACTION"]) for a in alarms] == ["DISPLAY"]
        assert alarms[0]["TRIGGER"].dt == timedelta(0)
    # UNTIL is UTC when DTSTART has a TZID (RFC 5545 §3.3.10).
    first = next(e for e in events if "1.5 mg" in str(e["SUMMARY"]))
    assert first["RRULE"]["UNTIL"][0] == datetime(2025, 3, 30, 21, 59, 59, tzinfo=UTC)
    # Summer time starts on 30 March: the dose stays at 22:00 on the clock.
    doses = occurrences(calendar, date(2025, 3, 29), date(2025, 4, 1), "dose")
    assert [moment for moment, _ in doses] == [datetime(2025, 3, d, 22) for d in (29, 30, 31)]


def test_without_a_time_zone_the_times_float_with_the_phone() -> None:
    daily = a_plan(date(2025, 6, 2), protocol="ldnrt-liquid", timing="morning")
    calendar = build([course(1, date(2025, 6, 2), daily)])
    assert calendar.walk("VTIMEZONE") == []
    first = calendar.walk("VEVENT")[0]
    assert first["DTSTART"].dt == datetime(2025, 6, 2, 8, 0)  # naive: floating
    assert "TZID" not in first["DTSTART"].params
    assert str(first["SUMMARY"]) == "Morning dose 0.5 mg (0.1 mL)"


def test_titles_never_name_the_medicine_and_descriptions_only_when_the_patient_opts_in(
        ) -> None:
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    courses = [course(1, date(2025, 6, 2), weekly)]
    surgery = [Surgery(3, "knee replacement", datetime(2025, 6, 20, 8, 0))]
    hidden = build(courses, surgery).to_ical().decode().lower()
    assert not [word for word in (*MEDICINE_WORDS, "knee") if word in hidden]
    shown = build(courses, surgery, medicine_names=True)
    descriptions = " ".join(str(e["DESCRIPTION"]) for e in shown.walk("VEVENT")).lower()
    assert "naltrexone" in descriptions and "knee replacement" in descriptions
    titles = " ".join(str(e["SUMMARY"]) for e in shown.walk("VEVENT")).lower()
    assert not [word for word in (*MEDICINE_WORDS, "knee") if word in titles]


def test_the_hold_stops_dose_reminders_before_surgery_and_asks_before_restarting() -> None:
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    surgery = Surgery(3, "knee replacement", datetime(2025, 6, 20, 8, 0))
    calendar = build([course(1, date(2025, 6, 2), weekly)], [surgery],
                     timezone="America/New_York")
    window = (date(2025, 6, 1), date(2025, 8, 1))
    doses = occurrences(calendar, *window, "dose")
    # 72 h before 20 June 08:00 is 17 June 08:00: the last 22:00 dose before it is 16 June.
    assert doses[-1] == (datetime(2025, 6, 16, 22), "Evening dose 4.5 mg")
    assert occurrences(calendar, *window, "last-dose") == [
        (datetime(2025, 6, 16, 22), "Last dose before surgery")]
    assert occurrences(calendar, *window, "surgery") == [(datetime(2025, 6, 20, 8), "Surgery")]
    assert occurrences(calendar, *window, "restart") == [
        (datetime(2025, 6, 20, 22), "Ask your clinician before the next dose")]
    note = str(calendar["X-WR-CALDESC"])
    assert "plan dated after the surgery" in note


def test_doses_come_back_with_a_plan_dated_after_the_surgery() -> None:
    first = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    restart = a_plan(date(2025, 7, 1), start_mg=1.5, target_mg=1.5)
    surgery = Surgery(3, "hernia repair", datetime(2025, 6, 20, 8, 0))
    calendar = build([course(1, date(2025, 6, 2), first, restart)], [surgery])
    doses = occurrences(calendar, date(2025, 6, 14), date(2025, 7, 3), "dose")
    assert [moment.date() for moment, _ in doses] == [
        date(2025, 6, d) for d in (14, 15, 16)] + [date(2025, 7, 1), date(2025, 7, 2)]


def test_a_plan_dated_on_the_surgery_day_is_still_held() -> None:
    first = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    same_day = a_plan(date(2025, 6, 20), start_mg=1.5, target_mg=1.5)
    surgery = Surgery(3, "hernia repair", datetime(2025, 6, 20, 8, 0))
    calendar = build([course(1, date(2025, 6, 2), first, same_day)], [surgery])
    doses = occurrences(calendar, date(2025, 6, 14), date(2025, 8, 1), "dose")
    assert doses[-1][0] == datetime(2025, 6, 16, 22)


def test_a_revision_rules_from_its_date_and_earlier_days_keep_the_older_plan() -> None:
    first = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    slower = a_plan(date(2025, 6, 12), start_mg=3, step_mg=0.5, every_days=14, target_mg=4.5)
    calendar = build([course(1, date(2025, 6, 2), first, slower)])
    doses = {m.date(): dose_of(t) for m, t in
             occurrences(calendar, date(2025, 6, 1), date(2025, 7, 15), "dose")}
    assert doses[date(2025, 6, 11)] == 3 and doses[date(2025, 6, 12)] == 3
    assert doses[date(2025, 6, 26)] == 3.5
    # Every event says which revision it belongs to, so clients replace older copies.
    assert {int(e["SEQUENCE"]) for e in calendar.walk("VEVENT")} == {2}


def test_uids_are_stable_so_subscribing_again_updates_instead_of_duplicating() -> None:
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    once = build([course(1, date(2025, 6, 2), weekly)])
    again = build([course(1, date(2025, 6, 2), weekly)], timezone="Europe/Berlin")
    uids = [str(e["UID"]) for e in once.walk("VEVENT")]
    assert uids == [str(e["UID"]) for e in again.walk("VEVENT")]
    revised = build([course(1, date(2025, 6, 2), weekly,
                            a_plan(date(2025, 6, 12), start_mg=3, target_mg=3))])
    # The revision from 12 June keeps steps 1 and 2 of the first plan (2 cut short) under
    # their UIDs and replaces step 3, which never starts now.
    assert {str(e["UID"]) for e in revised.walk("VEVENT")} == {
        *uids[:2], "lowdose-course1-plan2-step1@lowdose"}


def test_a_course_that_ended_stops_its_reminders_and_a_stop_step_has_none() -> None:
    taper = a_plan(date(2025, 6, 2), start_mg=1.5, step_mg=0.5, every_days=2, target_mg=0)
    calendar = build([course(1, date(2025, 6, 2), taper)])
    doses = occurrences(calendar, date(2025, 6, 1), date(2025, 7, 1), "dose")
    assert [dose_of(t) for _, t in doses] == [1.5, 1.5, 1, 1, 0.5, 0.5]
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    ended = build([course(1, date(2025, 6, 2), weekly, ended_on=date(2025, 6, 4))])
    assert len(occurrences(ended, date(2025, 6, 1), date(2026, 1, 1), "dose")) == 3


def test_refill_reminders_fall_on_the_refill_date_of_the_supply() -> None:
    supply = formulate(dose_mg=1.5, form="liquid", quantity=60, mg_per_ml=1,
                       start=date(2025, 6, 2), facts=load_formulation_facts())
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    calendar = build([course(1, date(2025, 6, 2), weekly)], refills=[
        Refill("supply-1", supply.refill_by)], timezone="Europe/Berlin")
    refills = [e for e in calendar.walk("VEVENT") if str(e["X-LOWDOSE-KIND"]) == "refill"]
    assert [e["DTSTART"].dt for e in refills] == [supply.refill_by]
    assert str(refills[0]["SUMMARY"]) == "Refill due"
    assert refills[0].walk("VALARM")[0]["TRIGGER"].dt == timedelta(hours=9)


# ----------------------------------------------------------------------- property


@st.composite
def records(draw: st.DrawFn) -> tuple[list[CoursePlans], list[Surgery], float, time,
                                      list[ComparisonDay]]:
    timing = draw(st.sampled_from(["bedtime", "morning"]))
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
    plans = []
    for number in range(draw(st.integers(1, 3))):
        offset = 0 if number == 0 else draw(st.integers(0, 70))
        try:
            plans.append(a_plan(
                start + timedelta(days=offset), timing=timing,
                start_mg=draw(st.sampled_from([0.5, 1.0, 1.5, 3.0, 4.5])),
                step_mg=draw(st.sampled_from([0.5, 1.0, 1.5])),
                every_days=draw(st.integers(1, 10)),
                target_mg=draw(st.sampled_from([0.0, 1.5, 3.0, 4.5])),
                liquid_mg_per_ml=draw(st.sampled_from([None, 1.0, 5.0]))))
        except InputError:
            assume(False)
    ended = draw(st.one_of(st.none(), st.integers(0, 150)))
    courses = [course(11, start, *plans,
                      ended_on=None if ended is None else start + timedelta(days=ended))]
    surgeries = [Surgery(i, "procedure", datetime.combine(
        start + timedelta(days=draw(st.integers(-5, 120))),
        time(draw(st.integers(6, 17)), draw(st.sampled_from([0, 30])))))
        for i in range(draw(st.integers(0, 2)))]
    hold = draw(st.sampled_from([36.5, 48.0, 72.0, 96.0]))
    dose_time = load_titration_facts().times.__getattribute__(timing)
    compared = []
    if draw(st.booleans()):
        doses = draw(st.sampled_from([(1.5, 3.0), (3.0, 4.5)]))
        compared = comparison_days(Arm(doses[0], dose_time), Arm(doses[1], dose_time),
                                   start + timedelta(days=draw(st.integers(0, 90))),
                                   seed=draw(st.integers(0, 1000)),
                                   period_days=draw(st.integers(3, 10)))
    return courses, surgeries, hold, dose_time, compared


@settings(max_examples=60, deadline=None)
@given(record=records(), zone=st.sampled_from(ZONES), names=st.booleans())
def test_every_dose_and_the_hold_match_the_plan_exactly(
        record: tuple[list[CoursePlans], list[Surgery], float, time, list[ComparisonDay]],
        zone: str | None, names: bool) -> None:
    courses, surgeries, hold_hours, dose_time, compared = record
    calendar = build(courses, surgeries, hold_hours=hold_hours, timezone=zone,
                     medicine_names=names, comparison=compared)
    expected = Expected(courses, surgeries, hold_hours, dose_time, compared)
    begins = courses[0].started_on - timedelta(days=7)
    window = (begins, begins + timedelta(days=200))
    doses = occurrences(calendar, *window, "dose")
    assert [(moment, dose_of(title)) for moment, title in doses] == expected.doses(*window)
    for kind, when in (("last-dose", expected.last_dose_by), ("surgery", lambda s: s.at),
                       ("restart", expected.restart_at)):
        assert [m for m, _ in occurrences(calendar, *window, kind)] == sorted(
            when(s) for s in surgeries if window[0] <= when(s).date() < window[1])
    titles = " ".join(str(e["SUMMARY"]) for e in calendar.walk("VEVENT")).lower()
    assert not [word for word in MEDICINE_WORDS if word in titles]
    uids = [str(e["UID"]) for e in calendar.walk("VEVENT")]
    assert len(uids) == len(set(uids))
    assert all(e.walk("VALARM") for e in calendar.walk("VEVENT"))


def test_comparison_days_replace_the_plan_and_say_which_arm() -> None:
    steady = a_plan(date(2025, 6, 2), start_mg=4.5, target_mg=4.5)
    morning, bedtime = Arm(4.5, time(8, 0)), Arm(4.5, time(22, 0))
    days = comparison_days(morning, bedtime, date(2025, 7, 1))
    calendar = build([course(1, date(2025, 6, 2), steady)], comparison=days,
                     timezone="Europe/Berlin")
    found = occurrences(calendar, date(2025, 6, 29), date(2025, 7, 17), "dose")
    taken_over = {d.day: d for d in days}
    assert [m for m, _ in found] == [
        datetime.combine(day, taken_over[day].time if day in taken_over else time(22))
        for day in (date(2025, 6, 29) + timedelta(days=n) for n in range(18))]
    for moment, title in found:
        arm = taken_over.get(moment.date())
        assert title.endswith(f", comparison {arm.arm}" if arm else "4.5 mg")
    # The plan's own event skips the comparison days instead of being split.
    plan_event = next(e for e in calendar.walk("VEVENT") if "plan1" in str(e["UID"]))
    assert len(plan_event["EXDATE"].dts if not isinstance(plan_event["EXDATE"], list)
               else [d for x in plan_event["EXDATE"] for d in x.dts]) == len(days)


def test_a_step_the_comparison_covers_entirely_leaves_no_empty_event() -> None:
    weekly = a_plan(date(2025, 6, 2), protocol="dartmouth-weekly")
    days = comparison_days(Arm(3.0, time(22)), Arm(4.5, time(22)), date(2025, 6, 9),
                           period_days=4)  # 16 days: all of step 2, the start of step 3
    calendar = build([course(1, date(2025, 6, 2), weekly)], comparison=days)
    uids = {str(e["UID"]) for e in calendar.walk("VEVENT")}
    assert "lowdose-course1-plan1-step2@lowdose" not in uids
    assert "stop at the last dose before surgery" not in str(calendar["X-WR-CALDESC"])


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Lord_Howe"])
def test_a_dst_change_inside_a_step_keeps_the_clock_time(zone: str) -> None:
    every_day = a_plan(date(2025, 3, 1), start_mg=1.5, target_mg=1.5)
    calendar = build([course(1, date(2025, 3, 1), every_day)], timezone=zone)
    doses = occurrences(calendar, date(2025, 3, 1), date(2025, 11, 1), "dose")
    assert len(doses) == (date(2025, 11, 1) - date(2025, 3, 1)).days
    assert {moment.time() for moment, _ in doses} == {time(22, 0)}
