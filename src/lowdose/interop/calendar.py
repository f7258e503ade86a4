"""A patient's plan as an iCalendar (RFC 5545) calendar, for calendar apps and file export.

- One event per titration step, repeating daily at the dose time until the step ends, with an
  alarm. Which plan version rules a day: the newest version that has started by then (a
  revision dated later leaves the days before it to the older version), within the course.
- A pre-operative hold (procedures with opioids expected, as the screen has it): the last dose
  before surgery, the surgery, and a "restart?" reminder. Dose reminders stop at the last dose
  and only come back from a plan version dated after the surgery, because restarting is the
  clinician's decision (knowledge: perioperative.toml, restart).
- Days of a planned n-of-1 comparison take the place of the plan's dose on those days (the
  plan's events skip them with EXDATE), one event per period of consecutive days on one arm.
- Refill reminders, when the caller knows refill dates.

Calendars get synced to other companies' clouds, so titles never name the medicine or the
procedure; descriptions do only when the patient opts in (interop-notes §4).

Pure: "now", the facts and the record's rows are arguments; no clock, no database, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vDuration, vText

from lowdose.core.perioperative import HoldPlan, plan_hold
from lowdose.core.titration import Step
from lowdose.knowledge.regimens import PerioperativeFacts

PRODID = "-//lowdose//lowdose dose calendar//EN"
UID_DOMAIN = "lowdose"
# Which kind of entry an event is (dose, last-dose, surgery, restart, refill), for clients
# and tests; X- properties are RFC 5545's place for this.
KIND = "X-LOWDOSE-KIND"
MEDICINE = "low-dose naltrexone (LDN)"
SUPPORT = ("lowdose supports decisions; it does not make them. Ask your clinician before "
           "changing anything.")
# How often calendar apps should fetch the feed again (RFC 7986 REFRESH-INTERVAL).
REFRESH = timedelta(hours=6)
REMINDER_LENGTH = timedelta(minutes=5)
# VTIMEZONE transitions are written this far past the last dated entry.
ZONE_HORIZON = timedelta(days=10 * 366)
_DAY = timedelta(days=1)


# ------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class PlanVersionSteps:
    """One stored plan version of a course: its number and its dated steps."""

    version: int
    steps: tuple[Step, ...]

    @property
    def starts(self) -> date:
        return min(step.start for step in self.steps)


@dataclass(frozen=True)
class CoursePlans:
    id: int
    started_on: date
    ended_on: date | None
    versions: tuple[PlanVersionSteps, ...]


@dataclass(frozen=True)
class Surgery:
    """A planned procedure with opioids expected; `at` is the local wall-clock time."""

    id: int
    name: str
    at: datetime


@dataclass(frozen=True)
class ComparisonDay:
    """One day of an n-of-1 comparison: what to take and when, on arm "A" or "B"."""

    day: date
    dose_mg: float
    time: time
    arm: str


@dataclass(frozen=True)
class Refill:
    """A date by which the next supply should be ordered; `key` makes its UID stable."""

    key: str
    on: date


# ----------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class DoseRun:
    """One step of one plan version as it runs on the calendar: a dose every day from
    `first` to `last` (None: until the plan changes) at `time`."""

    course_id: int
    version: int
    step: int
    first: date
    last: date | None
    dose_mg: float
    dose_ml: float | None
    time: time
    sequence: int
    note: str | None = None
    # The day the plan version (or the comparison) this run belongs to starts: a hold stops
    # the runs of plans dated up to the surgery day.
    plan_start: date | None = None
    skipped: tuple[date, ...] = ()  # days a comparison takes over (EXDATE)
    arm: str | None = None  # set on the runs of a comparison

    @property
    def uid(self) -> str:
        if self.arm is not None:
            return f"lowdose-comparison-{self.first:%Y%m%d}-{self.arm}@{UID_DOMAIN}"
        return f"lowdose-course{self.course_id}-plan{self.version}-step{self.step}@{UID_DOMAIN}"


@dataclass(frozen=True)
class Hold:
    surgery: Surgery
    plan: HoldPlan


@dataclass(frozen=True)
class Schedule:
    runs: tuple[DoseRun, ...]
    holds: tuple[Hold, ...]
    refills: tuple[Refill, ...]
    notes: tuple[str, ...]


def schedule(courses: Sequence[CoursePlans], surgeries: Sequence[Surgery],
             refills: Sequence[Refill], *, hold_hours: float, as_of: datetime,
             facts: PerioperativeFacts,
             comparison: Sequence[ComparisonDay] = (),
             zone: tzinfo | None = None) -> Schedule:
    """Every dose run, hold and refill of the record, dose runs cut short by the holds.

    `as_of` is the patient's local wall-clock time now (it only decides whether a hold can
    still be met); `zone`, where the patient lives, makes a hold count real hours across a
    daylight-saving change.
    """
    taken_over = frozenset(day.day for day in comparison)
    runs = [run for course in courses for run in course_runs(course)]
    runs = [kept for kept in (_skipping(run, taken_over) for run in runs) if kept is not None]
    runs += comparison_runs(comparison)
    holds = tuple(_hold(s, runs, hold_hours, as_of, facts, zone) for s in sorted(
        surgeries, key=lambda s: (s.at, s.id)))
    held = [_after_holds(run, holds) for run in runs]
    kept = tuple(run for run in held if run is not None)
    notes = []
    if held != runs:
        notes.append("Dose reminders stop at the last dose before surgery and return only when "
                     "your clinician records a plan dated after the surgery.")
    return Schedule(kept, holds, tuple(refills), tuple(notes))


def course_runs(course: CoursePlans) -> list[DoseRun]:
    """The days each plan version rules, step by step, inside the course's dates.

    A version rules from its first step's date until the next newer version starts; days
    with a dose of 0 mg (a stop) have no reminder.
    """
    versions = sorted((v for v in course.versions if v.steps), key=lambda v: v.version)
    newest = max((v.version for v in versions), default=0)
    runs = []
    for i, version in enumerate(versions):
        later = [v.starts for v in versions[i + 1:]]
        window_end = min([*later, *([course.ended_on + _DAY] if course.ended_on else [])],
                         default=None)
        window_start = max(version.starts, course.started_on)
        for step in version.steps:
            first = max(step.start, window_start)
            ends = [d for d in (step.end, window_end - _DAY if window_end else None) if d]
            last = min(ends) if ends else None
            if step.dose_mg <= 0 or (last is not None and last < first):
                continue
            runs.append(DoseRun(course.id, version.version, step.number, first, last,
                                step.dose_mg, step.dose_ml, step.time, newest, step.note,
                                plan_start=version.starts))
    return runs


def comparison_runs(days: Sequence[ComparisonDay]) -> list[DoseRun]:
    """Consecutive days on one arm (same dose and time) as one run each."""
    runs: list[DoseRun] = []
    ordered = sorted(days, key=lambda d: d.day)
    starts = ordered[0].day if ordered else None
    for day in ordered:
        last = runs[-1] if runs else None
        if (last is not None and last.last == day.day - _DAY and last.arm == day.arm
                and (last.dose_mg, last.time) == (day.dose_mg, day.time)):
            runs[-1] = replace(last, last=day.day)
            continue
        runs.append(DoseRun(0, 0, len(runs) + 1, day.day, day.day, day.dose_mg, None,
                            day.time, 0, plan_start=starts, arm=day.arm))
    return runs


def _skipping(run: DoseRun, taken_over: frozenset[date]) -> DoseRun | None:
    """The run without the days a comparison takes over; None when it takes all of them."""
    skipped = tuple(sorted(d for d in taken_over
                           if run.first <= d and (run.last is None or d <= run.last)))
    if run.last is not None and len(skipped) == (run.last - run.first).days + 1:
        return None
    return replace(run, skipped=skipped) if skipped else run


def _hold(surgery: Surgery, runs: Sequence[DoseRun], hold_hours: float, as_of: datetime,
          facts: PerioperativeFacts, zone: tzinfo | None) -> Hold:
    """The core hold plan, at the dose time of the run in force when the hold begins."""
    begins = (surgery.at - timedelta(hours=hold_hours)).date()
    by_start = sorted(runs, key=lambda r: r.first)
    ruling = [r for r in by_start if r.first <= begins and (r.last is None or begins <= r.last)
              and begins not in r.skipped]
    begun = [r for r in by_start if r.first <= begins]
    # No dose that day: the latest run begun before it, else the first one to come, else the
    # knowledge's usual dose time.
    run = (ruling[-1] if ruling else begun[-1] if begun else by_start[0] if by_start
           else None)
    plan = plan_hold(surgery_at=surgery.at,
                     dose_time=run.time if run else facts.default_dose_time,
                     hold_hours=hold_hours, as_of=as_of, last_taken=None, facts=facts,
                     dose_mg=run.dose_mg if run else None, zone=zone)
    return Hold(surgery, plan)


def _after_holds(run: DoseRun, holds: Sequence[Hold]) -> DoseRun | None:
    """The run without the doses a hold stops: those after the last dose before surgery, of
    plans (or comparisons) dated on or before the surgery day. None when no dose remains."""
    last = run.last
    for hold in holds:
        if (run.plan_start or run.first) > hold.surgery.at.date():
            continue
        by = hold.plan.last_dose_by
        final = by.date() if run.time <= by.time() else by.date() - _DAY
        last = final if last is None else min(last, final)
    if last is not None and (last < run.first or all(
            run.first + timedelta(days=n) in run.skipped
            for n in range((last - run.first).days + 1))):
        return None
    return replace(run, last=last,
                   skipped=tuple(d for d in run.skipped if last is None or d <= last))


# ----------------------------------------------------------------------------- calendar


def to_calendar(plan: Schedule, *, stamp: datetime, timezone: str | None = None,
                medicine_names: bool = False, notes: Sequence[str] = ()) -> Calendar:
    """The schedule as a VCALENDAR. `timezone` (IANA name) pins the local times with a TZID
    and VTIMEZONE; without it they are floating (the same clock time wherever the phone is).
    `stamp` (aware) becomes every DTSTAMP."""
    zone = ZoneInfo(timezone) if timezone else None
    writer = _Writer(zone, stamp.astimezone(UTC), medicine_names)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # X- properties are TEXT (RFC 5545 §3.8.8.2): written as vText, so commas, semicolons,
    # backslashes and newlines are escaped (§3.3.11); a bare str would go out unescaped.
    calendar.add("x-wr-calname", vText("Dose plan"))
    calendar.add("x-wr-caldesc", vText(" ".join([*plan.notes, *notes, SUPPORT])))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    if timezone:
        calendar.add("x-wr-timezone", vText(timezone))
    for run in plan.runs:
        calendar.add_component(writer.dose(run))
    for hold in plan.holds:
        for event in writer.hold(hold):
            calendar.add_component(event)
    for refill in plan.refills:
        calendar.add_component(writer.refill(refill))
    if zone is not None:
        first, last = _date_range(plan, stamp.date())
        calendar.add_missing_timezones(first_date=first - _DAY, last_date=last + ZONE_HORIZON)
    return calendar


def dose_title(run: DoseRun) -> str:
    """"Evening dose 1.5 mg (1.5 mL)": when, how much, never which medicine."""
    when = "Morning" if run.time < time(12) else "Evening"
    amount = f"{run.dose_mg:g} mg" + (f" ({run.dose_ml:g} mL)" if run.dose_ml else "")
    arm = f", comparison {run.arm}" if run.arm else ""
    return f"{when} dose {amount}{arm}"


@dataclass(frozen=True)
class _Writer:
    zone: ZoneInfo | None
    stamp: datetime
    medicine_names: bool

    def local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=self.zone)

    def until(self, last: date) -> datetime:
        """UNTIL after the last dose of `last` and before the next day's: UTC when the times
        carry a zone (RFC 5545 §3.3.10), floating otherwise."""
        end = datetime.combine(last, time(23, 59, 59))
        return self.local(end).astimezone(UTC) if self.zone else end

    def event(self, kind: str, uid: str, summary: str, description: str,
              start: datetime | date, *, sequence: int = 0) -> Event:
        event = Event()
        event.add("uid", uid)
        event.add("dtstamp", self.stamp)
        event.add("sequence", sequence)
        event.add("summary", summary)
        event.add("description", f"{description}\n\n{SUPPORT}")
        event.add(KIND, vText(kind))
        if isinstance(start, datetime):
            event.add("dtstart", self.local(start))
            event.add("duration", REMINDER_LENGTH)
        else:
            event.add("dtstart", start)
            event.add("duration", _DAY)
        event.add("transp", "TRANSPARENT")
        return event

    def alarm(self, event: Event, before: timedelta = timedelta(0)) -> Event:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", event["summary"])
        alarm.add("trigger", -before)
        event.add_component(alarm)
        return event

    def dose(self, run: DoseRun) -> Event:
        described = "Your planned dose for this step of the plan."
        if self.medicine_names:
            described = (f"{MEDICINE}, {run.dose_mg:g} mg"
                         + (f" ({run.dose_ml:g} mL)" if run.dose_ml else "")
                         + f" once a day.{' ' + run.note if run.note else ''}")
        event = self.event("dose", run.uid, dose_title(run), described,
                           datetime.combine(run.first, run.time), sequence=run.sequence)
        rule: dict[str, object] = {"freq": "daily"}
        if run.last is not None:
            rule["until"] = self.until(run.last)
        event.add("rrule", rule)
        if run.skipped:
            event.add("exdate", [self.local(datetime.combine(day, run.time))
                                 for day in run.skipped])
        return self.alarm(event)

    def hold(self, hold: Hold) -> list[Event]:
        plan, surgery = hold.plan, hold.surgery
        uid = f"lowdose-procedure{surgery.id}-{{}}@{UID_DOMAIN}"
        last, op, restart = plan.calendar
        if self.medicine_names:
            texts = (last.description,
                     f"{surgery.name}. {plan.surgical_team_note}", plan.restart_guidance)
        else:
            texts = ("Take no dose after this one until your clinician says to restart. Tell "
                     "the surgical team about every medicine you take, this one included.",
                     "Tell the surgical team about every medicine you take.",
                     "When to restart after surgery is your clinician's decision: ask them "
                     "before your next dose.")
        return [
            self.alarm(self.event("last-dose", uid.format("last-dose"),
                                  "Last dose before surgery", texts[0], last.start)),
            self.alarm(self.event("surgery", uid.format("surgery"), "Surgery", texts[1],
                                  op.start), before=_DAY),
            self.alarm(self.event("restart", uid.format("restart"),
                                  "Ask your clinician before the next dose", texts[2],
                                  restart.start)),
        ]

    def refill(self, refill: Refill) -> Event:
        event = self.event("refill", f"lowdose-refill-{refill.key}@{UID_DOMAIN}", "Refill due",
                           "Order your next supply today so it arrives before you run out.",
                           refill.on)
        # An all-day entry: remind at 09:00 that day.
        return self.alarm(event, before=-timedelta(hours=9))


def _date_range(plan: Schedule, today: date) -> tuple[date, date]:
    days = [today]
    for run in plan.runs:
        days += [run.first] + ([run.last] if run.last else [])
    for hold in plan.holds:
        days += [e.start.date() for e in hold.plan.calendar]
    days += [refill.on for refill in plan.refills]
    return min(days), max(days)
