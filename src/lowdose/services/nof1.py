"""Planned n-of-1 comparisons on the record: two dose levels, or morning against bedtime, in
randomised blocks with run-in days left out after each switch (the maths is core/nof1.py).

A clinician on the care team plans one (it changes what the patient takes, so it is a
prescription); the patient and the care team read it, follow its schedule, and see its analysis.
The schedule is stored with the seed that drew it, so it can always be rebuilt exactly.
`schedule` gives the calendar and the planner what to take on each day.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import select

from lowdose.core.diary import observations
from lowdose.core.nof1 import (
    Arm,
    ArmCode,
    ComparisonOutcome,
    Schedule,
    analyze_comparison,
    plan_comparison,
)
from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import optional_text
from lowdose.services.context import Context
from lowdose.services.courses import current_plan
from lowdose.services.errors import Conflict, NotFound
from lowdose.services.outcomes import _diary
from lowdose.store.db import Database
from lowdose.store.models import NofOneComparison

MAX_BLOCKS = 10
MAX_PERIOD_DAYS = 56


@dataclass(frozen=True)
class ComparisonRequest:
    """What the clinician plans; blocks, period and run-in default to monitoring.toml's."""

    a: Arm
    b: Arm
    starts_on: date
    blocks: int | None = None
    period_days: int | None = None
    run_in_days: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        for name, value, most in (("blocks", self.blocks, MAX_BLOCKS),
                                  ("period_days", self.period_days, MAX_PERIOD_DAYS),
                                  ("run_in_days", self.run_in_days, MAX_PERIOD_DAYS)):
            if value is not None and (isinstance(value, bool) or not 0 <= value <= most):
                raise InputError(name, f"must be a whole number from 0 to {most}")
        for name, arm in (("a", self.a), ("b", self.b)):
            if arm.dose_time.tzinfo is not None:
                raise InputError(f"{name}.time", "give the local clock time without a zone")


@dataclass(frozen=True)
class ComparisonView:
    id: int
    patient_id: int
    schedule: Schedule
    note: str | None
    created_at: datetime  # naive UTC
    created_by: int | None
    cancelled_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id, **self.schedule.to_dict(),
                "note": self.note, "created_at": self.created_at.isoformat() + "Z",
                "created_by": self.created_by, "cancelled": self.cancelled_at is not None}


@dataclass(frozen=True)
class ComparisonAnalysis:
    comparison: ComparisonView
    outcomes: tuple[ComparisonOutcome, ...]

    def to_dict(self) -> dict[str, object]:
        return {"comparison_id": self.comparison.id, "patient_id": self.comparison.patient_id,
                "a": self.comparison.schedule.a.to_dict(),
                "b": self.comparison.schedule.b.to_dict(),
                "measures": [o.to_dict() for o in self.outcomes],
                "note": ("An n-of-1 comparison supports a decision with your clinician; "
                         "it does not make it.")}


class ScheduledDose(NamedTuple):
    """One day of a comparison: what to take, when, and on which arm."""

    date: date
    dose_mg: float
    dose_time: time
    arm: ArmCode


def create_comparison(db: Database, ctx: Context, patient_id: int,
                      request: ComparisonRequest, *, seed: int | None = None) -> ComparisonView:
    """Plan a comparison (a care-team clinician); it may not overlap another running one."""
    note = optional_text("note", request.note, max_length=2000)
    if request.starts_on < ctx.now.date():
        raise InputError("starts_on", "a planned comparison starts today or later")
    defaults = load_monitoring_rules().nof1
    drawn = secrets.randbits(62) if seed is None else seed
    schedule = plan_comparison(
        request.a, request.b, start=request.starts_on,
        blocks=defaults.blocks if request.blocks is None else request.blocks,
        period_days=defaults.period_days if request.period_days is None
        else request.period_days,
        run_in_days=defaults.run_in_days if request.run_in_days is None
        else request.run_in_days,
        seed=drawn, sources=defaults.sources,
        # Checked when planned only: a stored comparison is rebuilt as it was planned.
        max_dose_mg=load_titration_facts().ceiling.override_max_mg,
        min_days_per_arm=defaults.min_days_per_arm)
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "nof1.create",
                        write=True) as access:
        _after_onset(access, request.starts_on)
        for other in _rows(access):
            if other.cancelled_at is None and (other.starts_on <= schedule.last
                                               and schedule.first <= other.ends_on):
                raise Conflict(f"it overlaps comparison {other.id} "
                               f"({other.starts_on} to {other.ends_on}); cancel that first")
        row = NofOneComparison(
            patient_id=patient_id, kind=schedule.kind, a_dose_mg=schedule.a.dose_mg,
            a_time=schedule.a.dose_time, b_dose_mg=schedule.b.dose_mg,
            b_time=schedule.b.dose_time, starts_on=schedule.first, ends_on=schedule.last,
            blocks=len(schedule.periods) // 2, period_days=_period_days(schedule),
            run_in_days=schedule.periods[0].run_in_days, seed=drawn,
            schedule=schedule.to_dict(), note=note, created_at=ctx.at,
            created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("nof1", row.id)
        return _view(row)


def list_comparisons(db: Database, ctx: Context, patient_id: int) -> list[ComparisonView]:
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "nof1.list") as access:
        return [_view(row) for row in _rows(access)]


def get_comparison(db: Database, ctx: Context, patient_id: int,
                   comparison_id: int) -> ComparisonView:
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "nof1.read") as access:
        return _view(_row(access, comparison_id))


def cancel_comparison(db: Database, ctx: Context, patient_id: int,
                      comparison_id: int) -> ComparisonView:
    """Stop following a comparison; the row stays, and its analysis can still be read."""
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "nof1.cancel",
                        write=True) as access:
        row = _row(access, comparison_id)
        if row.cancelled_at is None:
            row.cancelled_at = ctx.at
            access.session.flush()
        return _view(row)


def analyze(db: Database, ctx: Context, patient_id: int,
            comparison_id: int) -> ComparisonAnalysis:
    """B against A for every rated measure, with the estimator of the before/after analysis,
    on the analysed days only (run-in days and days outside the comparison left out)."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "nof1.analyze") as access:
        view = _view(_row(access, comparison_id))
        found = analyze_comparison(view.schedule, observations(_diary(access)),
                                   instruments=load_instruments(),
                                   rules=load_monitoring_rules())
        return ComparisonAnalysis(view, found)


def schedule(db: Database, ctx: Context, patient_id: int) -> list[ScheduledDose]:
    """Every day of the patient's comparisons that are not cancelled, in date order: what to
    take and when (for the calendar and "today")."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "nof1.schedule") as access:
        days: list[ScheduledDose] = []
        for row in _rows(access):
            if row.cancelled_at is not None:
                continue
            plan = _view(row).schedule
            for period in plan.periods:
                arm = plan.a if period.arm == "A" else plan.b
                days.extend(ScheduledDose(period.first + timedelta(days=n), arm.dose_mg,
                                          arm.dose_time, period.arm)
                            for n in range((period.last - period.first).days + 1))
        return sorted(days)


def _period_days(plan: Schedule) -> int:
    first = plan.periods[0]
    return (first.last - first.first).days + 1


def _after_onset(access: Access, starts_on: date) -> None:
    """LDN's benefit builds over weeks (monitoring.toml [onset], [nof1]): a comparison that
    starts inside the onset period of the course running then would compare the build-up."""
    running = current_plan(access, starts_on)
    if running is None:
        return
    onset = load_monitoring_rules().onset.days
    ready = running[0].started_on + timedelta(days=onset)
    if starts_on < ready:
        raise InputError("starts_on", f"LDN started on {running[0].started_on.isoformat()}; "
                                      f"its benefit builds over about {onset} days, so compare "
                                      f"from {ready.isoformat()} on")


def _rows(access: Access) -> list[NofOneComparison]:
    return list(access.session.scalars(
        select(NofOneComparison).where(NofOneComparison.patient_id == access.patient.id)
        .order_by(NofOneComparison.starts_on, NofOneComparison.id)).all())


def _row(access: Access, comparison_id: int) -> NofOneComparison:
    row = access.session.get(NofOneComparison, comparison_id)
    if row is None or row.patient_id != access.patient.id:
        raise NotFound("comparison", comparison_id)
    access.point_at("nof1", row.id)
    return row


def _view(row: NofOneComparison) -> ComparisonView:
    defaults = load_monitoring_rules().nof1
    # Rebuilt from the stored parameters and seed: the same allocation, day for day.
    plan = plan_comparison(Arm(row.a_dose_mg, row.a_time), Arm(row.b_dose_mg, row.b_time),
                           start=row.starts_on, blocks=row.blocks,
                           period_days=row.period_days, run_in_days=row.run_in_days,
                           seed=row.seed, sources=defaults.sources)
    return ComparisonView(row.id, row.patient_id, plan, row.note, row.created_at,
                          row.created_by, row.cancelled_at)
