"""The visit report as data: what a clinician reads in two minutes, before any layout.

`build_visit_report` is pure (no database, clock or files): the service hands it the record
and the analyses it computed, and the PDF (reports/pdf.py) only lays the result out. Tests
check the content here without parsing a PDF, and the PDF tests check that it shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from lowdose.core.diary import CheckIn
from lowdose.core.flags import Flag
from lowdose.core.outcomes import MeasureOutcome, OutcomeReport
from lowdose.core.screening import ScreeningResult
from lowdose.knowledge.evidence import SideEffectCourse, side_effect_for

SELF_REPORTED = ("Every rating, dose and side effect here was entered by the patient in a "
                 "daily diary. Days without a check-in are missing, not zero, and nothing "
                 "here was measured by a clinician.")
DECISION_SUPPORT = ("lowdose supports decisions; it does not make them. Check every "
                    "suggestion against the patient and your own judgement.")
RECENT_NOTES = 5  # the newest free-text notes shown; the full diary is in the CSV export
NOTE_CHARACTERS = 300


@dataclass(frozen=True)
class DoseStep:
    start: date
    end: date | None
    dose_mg: float
    time: str | None


@dataclass(frozen=True)
class MeasureRow:
    """One rated measure against its baseline; numbers are the outcome analysis's own."""

    measure: str
    status: str  # "ok" or "insufficient-data"
    direction: str | None
    baseline_mean: float | None
    treatment_mean: float | None
    estimate: float | None
    low: float | None
    high: float | None
    coverage: float | None
    mid_points: float | None
    mid_borrowed: bool
    p_mid: float | None
    n_baseline: int
    n_treatment: int
    summary: str
    series: tuple[tuple[date, float], ...]  # every recorded day, for the chart


@dataclass(frozen=True)
class SideEffectRow:
    """A side effect as recorded, beside what the sources say about its course."""

    name: str  # as the patient wrote it (first spelling seen)
    known_as: str | None  # the knowledge entry it matches
    first: date
    last: date
    days: int  # days it was recorded with severity ≥ 1
    worst: int
    ongoing: bool  # present at the newest check-in
    expected_onset: str
    expected_duration: str
    sources: tuple[str, ...]
    days_by_severity: tuple[tuple[date, int], ...]  # for the chart


@dataclass(frozen=True)
class Adherence:
    recorded: int  # days with dose_taken recorded, since LDN started
    taken: int
    longest_missed_run: int
    weekly: tuple[tuple[date, int, int], ...]  # (week start, taken, recorded)

    @property
    def percent(self) -> float | None:
        return None if not self.recorded else 100.0 * self.taken / self.recorded


@dataclass(frozen=True)
class Event:
    at: datetime  # local wall-clock time
    kind: str  # "procedure", "opioid", "hold"
    text: str


@dataclass(frozen=True)
class ScreenRow:
    level: str
    code: str
    message: str
    trigger: str


@dataclass(frozen=True)
class Note:
    day: date
    text: str


@dataclass(frozen=True)
class VisitReport:
    patient_id: int
    patient_name: str
    synthetic: bool
    generated_at: datetime
    first_day: date | None
    last_day: date | None
    checkin_days: int
    ldn_start: date | None
    effect_from: date | None
    steps: tuple[DoseStep, ...]
    doses_taken: tuple[tuple[date, float], ...]
    measures: tuple[MeasureRow, ...]
    measures_note: str | None  # why there is no analysis at all, when there is none
    side_effects: tuple[SideEffectRow, ...]
    adherence: Adherence
    flags: tuple[Flag, ...]
    events: tuple[Event, ...]
    screen_verdict: str
    screen_findings: tuple[ScreenRow, ...]
    notes: tuple[Note, ...]
    uncertainty: tuple[str, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source id the report leans on, in the order first cited."""
        cited = [s for f in self.flags for s in f.sources]
        cited += [s for row in self.side_effects for s in row.sources]
        return tuple(dict.fromkeys(cited))


@dataclass(frozen=True)
class Procedure:
    name: str
    at: datetime
    opioids_expected: bool | None
    cancelled: bool


def build_visit_report(
    *,
    patient_id: int,
    patient_name: str,
    synthetic: bool,
    generated_at: datetime,
    diary: Sequence[CheckIn],
    plan_steps: Sequence[Mapping[str, Any]],
    ldn_start: date | None,
    outcomes: OutcomeReport | None,
    flags: Sequence[Flag],
    screen: ScreeningResult,
    procedures: Sequence[Procedure],
    course: SideEffectCourse,
) -> VisitReport:
    """The report for one patient; `outcomes` is None when no LDN course is recorded."""
    days = sorted(diary, key=lambda c: c.day)
    measures = tuple(_measure(m, days) for m in outcomes.measures) if outcomes else ()
    caveat = outcomes.caveat if outcomes else None
    return VisitReport(
        patient_id=patient_id, patient_name=patient_name, synthetic=synthetic,
        generated_at=generated_at,
        first_day=days[0].day if days else None, last_day=days[-1].day if days else None,
        checkin_days=len(days), ldn_start=ldn_start,
        effect_from=outcomes.effect_from if outcomes else None,
        steps=tuple(_step(s) for s in plan_steps),
        doses_taken=tuple((c.day, c.dose_mg) for c in days
                          if c.dose_taken and c.dose_mg is not None),
        measures=measures,
        measures_note=None if outcomes else (
            "No LDN course is recorded, so there is no start date to compare against."),
        side_effects=_side_effects(days, course),
        adherence=_adherence(days, ldn_start),
        flags=tuple(flags),
        events=_events(procedures, screen, generated_at.replace(tzinfo=None)),
        screen_verdict=screen.verdict,
        screen_findings=tuple(ScreenRow(f.level, f.code, f.message, f.trigger)
                              for f in screen.findings),
        notes=tuple(Note(c.day, _clip(c.note)) for c in days if c.note.strip())[-RECENT_NOTES:],
        uncertainty=tuple(text for text in (SELF_REPORTED, caveat, DECISION_SUPPORT) if text),
    )


def _step(step: Mapping[str, Any]) -> DoseStep:
    end = step.get("to")
    return DoseStep(date.fromisoformat(step["from"]), date.fromisoformat(end) if end else None,
                    float(step["dose_mg"]), step.get("time"))


def _measure(outcome: MeasureOutcome, diary: Sequence[CheckIn]) -> MeasureRow:
    effect, mid = outcome.effect, outcome.mid
    series = tuple((c.day, float(c.ratings[outcome.measure])) for c in diary
                   if outcome.measure in c.ratings)
    return MeasureRow(
        measure=outcome.measure, status=outcome.status, direction=outcome.direction,
        baseline_mean=effect.reference_mean if effect else None,
        treatment_mean=effect.compared_mean if effect else None,
        estimate=effect.estimate if effect else None,
        low=effect.low if effect else None, high=effect.high if effect else None,
        coverage=effect.coverage if effect else None,
        mid_points=mid.points if mid else None,
        mid_borrowed=mid is not None and mid.basis == "borrowed",
        p_mid=effect.p_mid if effect else None,
        n_baseline=outcome.phases[0].days, n_treatment=outcome.phases[2].days,
        summary=outcome.summary, series=series)


def _side_effects(diary: Sequence[CheckIn], course: SideEffectCourse) -> tuple[SideEffectRow,
                                                                               ...]:
    seen: dict[str, list[tuple[date, int, str]]] = defaultdict(list)
    for checkin in diary:
        for effect in checkin.present_effects():
            seen[effect.name.strip().casefold()].append((checkin.day, effect.severity,
                                                         effect.name.strip()))
    newest = diary[-1] if diary else None
    current = {e.name.strip().casefold() for e in newest.present_effects()} if newest else set()
    rows = []
    for key, entries in seen.items():
        known = side_effect_for(entries[0][2], course)
        rows.append(SideEffectRow(
            name=entries[0][2], known_as=known.name if known else None,
            first=entries[0][0], last=entries[-1][0], days=len(entries),
            worst=max(s for _, s, _ in entries), ongoing=key in current,
            expected_onset=known.onset if known else "not in lowdose's side-effect list",
            expected_duration=known.duration if known else "not reported",
            sources=known.sources if known else (),
            days_by_severity=tuple((d, s) for d, s, _ in entries)))
    return tuple(sorted(rows, key=lambda r: (r.first, r.name)))


def _adherence(diary: Sequence[CheckIn], ldn_start: date | None) -> Adherence:
    window = [c for c in diary if c.dose_taken is not None
              and (ldn_start is None or c.day >= ldn_start)]
    weeks: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    longest = run = 0
    previous: date | None = None
    for checkin in window:
        week = weeks[checkin.day - timedelta(days=checkin.day.weekday())]
        week[1] += 1
        if checkin.dose_taken:
            week[0] += 1
            run = 0
        else:
            consecutive = previous is not None and (checkin.day - previous).days == 1
            run = run + 1 if consecutive and run else 1
            longest = max(longest, run)
        previous = checkin.day
    return Adherence(recorded=len(window), taken=sum(1 for c in window if c.dose_taken),
                     longest_missed_run=longest,
                     weekly=tuple((w, t, r) for w, (t, r) in sorted(weeks.items())))


OPIOID_CODES = frozenset({"active-opioid", "recent-opioid", "opioid-stop-date-unknown",
                          "opioid-dependence-treatment", "opioid-dependence-history",
                          "opioid-interval-met", "opioid-depot-stopped", "opioid-use-history",
                          "opioid-use-suspected", "opioid-test-positive", "opioid-in-conditions",
                          "after-surgery-opioids"})


def _events(procedures: Sequence[Procedure], screen: ScreeningResult,
            screened_at: datetime) -> tuple[Event, ...]:
    """Procedures, the surgery hold and opioid findings; a finding is dated by the screen."""
    events = [Event(p.at, "procedure",
                    f"{p.name}{' (cancelled)' if p.cancelled else ''}; opioids expected: "
                    f"{_yes_no(p.opioids_expected)}") for p in procedures]
    hold = screen.perioperative
    if hold is not None:
        met = "can be met" if hold.can_meet_hold else "cannot be met as planned"
        events.append(Event(hold.last_dose_by, "hold",
                            f"Last LDN dose by this time ({hold.hold_hours:g} h hold before "
                            f"surgery; the hold {met}). {hold.restart_guidance}"))
    events += [Event(screened_at, "opioid",
                     f"{f.message} (recorded as: {f.trigger})")
               for f in screen.findings if f.code in OPIOID_CODES]
    return tuple(sorted(events, key=lambda e: e.at))


def _yes_no(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= NOTE_CHARACTERS else text[:NOTE_CHARACTERS - 1] + "…"
