"""Each patient's line on the clinician panel, refreshed inside every write that can change it.

The check-in, questionnaire and plan use cases call `refresh_status` in their own transaction,
so the stored line is never older than the record. It reads a bounded window of the diary
(monitoring.toml's lookback), never the whole of it: the cost of a write and of the panel stays
flat however long the diary grows.

What depends on the diary is stored as computed at the write (see `PanelStatus`); what depends
only on today's date (check-in overdue, step due, surgery coming) is left to the panel's query.
This module imports no other use case, so those use cases can import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
from lowdose.core.flags import Flag
from lowdose.core.instruments import Score, score
from lowdose.core.monitoring import monitor
from lowdose.errors import InputError
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import LEVELS, load_monitoring_rules
from lowdose.store.models import (
    Checkin,
    LdnCourse,
    PanelStatus,
    PlanVersion,
    QuestionnaireResponse,
)

# Sort groups of the stored part, most pressing first; the panel adds the date-dependent ones.
URGENT, SIDE_EFFECTS, OTHER_ATTENTION, NOTHING = 0, 1, 2, 9
SIDE_EFFECT_CODES = frozenset({"side-effect-persisting", "side-effect-severe",
                               "sleep-suggest-morning", "worse-after-step-up"})
# Computed by the panel from stored dates, so they are current on the day it is read.
DATE_DEPENDENT = frozenset({"checkin-overdue", "titration-step-due"})

_CHECKINS = cast(Table, Checkin.__table__)
_STATUS = cast(Table, PanelStatus.__table__)
_RECENT = (select(_CHECKINS.c.date, _CHECKINS.c.dose_taken, _CHECKINS.c.dose_mg,
                  _CHECKINS.c.dose_time, _CHECKINS.c.ratings, _CHECKINS.c.side_effects,
                  _CHECKINS.c.note)
           .where(_CHECKINS.c.patient_id == bindparam("patient"),
                  _CHECKINS.c.date >= bindparam("since"), _CHECKINS.c.date <= bindparam("today"))
           .order_by(_CHECKINS.c.date))
_LAST_CHECKIN = select(func.max(_CHECKINS.c.date)).where(
    _CHECKINS.c.patient_id == bindparam("patient"))
_LAST_DOSE = (select(_CHECKINS.c.dose_mg)
              .where(_CHECKINS.c.patient_id == bindparam("patient"),
                     _CHECKINS.c.dose_taken.is_(True), _CHECKINS.c.dose_mg.is_not(None))
              .order_by(_CHECKINS.c.date.desc()).limit(1))
_PLANS, _COURSES = cast(Table, PlanVersion.__table__), cast(Table, LdnCourse.__table__)
_ANSWERS_TABLE = cast(Table, QuestionnaireResponse.__table__)
# Core statements (no ORM unit of work): this runs inside every check-in write.
_PLAN = (select(_PLANS.c.plan)
         .join(_COURSES, _COURSES.c.id == _PLANS.c.course_id)
         .where(_COURSES.c.patient_id == bindparam("patient"),
                _COURSES.c.started_on <= bindparam("today"),
                _COURSES.c.ended_on.is_(None) | (_COURSES.c.ended_on >= bindparam("today")))
         .order_by(_COURSES.c.started_on.desc(), _PLANS.c.version.desc()).limit(1))
_ANSWERS = select(_ANSWERS_TABLE.c.instrument, _ANSWERS_TABLE.c.answers,
                  _ANSWERS_TABLE.c.answered_at).where(
    _ANSWERS_TABLE.c.patient_id == bindparam("patient"),
    _ANSWERS_TABLE.c.answered_at >= bindparam("since"))


def refresh_status(session: Session, *, patient_id: int, clinic_id: int, today: date,
                   at: datetime) -> None:
    """Recompute and store the patient's panel line (inside the caller's transaction)."""
    connection = session.connection()
    connection.execute(_upsert(connection.dialect.name),
                       status_values(session, patient_id=patient_id, clinic_id=clinic_id,
                                     today=today, at=at))


def status_values(session: Session, *, patient_id: int, clinic_id: int, today: date,
                  at: datetime) -> dict[str, Any]:
    """The panel line's columns for one patient as of `today`."""
    rules = load_monitoring_rules()
    since = today - timedelta(days=rules.window.lookback_days - 1)
    db = session.connection()  # Core statements: no ORM overhead inside the write
    rows = db.execute(_RECENT, {"patient": patient_id, "since": since,
                                     "today": today}).all()
    recent = [CheckIn(day=r.date, dose_taken=r.dose_taken, dose_mg=r.dose_mg,
                      dose_time=r.dose_time, ratings=dict(r.ratings),
                      side_effects=tuple(SideEffect(str(e["name"]), int(e["severity"]))
                                         for e in r.side_effects or ()),
                      note=r.note or "")  # a red flag written in the note counts too
              for r in rows]
    last_checkin = (recent[-1].day if recent else
                    db.execute(_LAST_CHECKIN, {"patient": patient_id}).scalar())
    taken = [c.dose_mg for c in recent if c.dose_taken and c.dose_mg is not None]
    dose = taken[-1] if taken else db.execute(_LAST_DOSE, {"patient": patient_id}).scalar()
    plan = db.execute(_PLAN, {"patient": patient_id, "today": today}).scalar() or {}
    steps = [PlannedDose(date.fromisoformat(s["from"]), float(s["dose_mg"]))
             for s in plan.get("steps", ())]
    recent_from = datetime.combine(today - timedelta(days=rules.window.recent_days - 1),
                                   time.min)
    scores = _scores(db.execute(_ANSWERS, {"patient": patient_id,
                                           "since": recent_from}).all())
    flags = [f for f in monitor(recent, today=today, rules=rules, course=load_side_effects(),
                                plan=steps, instruments=load_instruments(), scores=scores)
             if f.code not in DATE_DEPENDENT]
    next_step = _next_step(steps, dose)
    return {"patient_id": patient_id, "clinic_id": clinic_id, "category": category(flags),
            "level": flags[0].level if flags else None,
            "flags": [{"code": f.code, "level": f.level, "reason": f.reason,
                       "date": f.day.isoformat()} for f in flags],
            "last_checkin": last_checkin, "dose_mg": dose,
            "next_step_on": next_step.start if next_step else None,
            "next_step_mg": next_step.dose_mg if next_step else None,
            "steps_held": any(f.code == "worse-after-step-up" for f in flags),
            "refreshed_at": at}


def category(flags: Sequence[Flag]) -> int:
    """The sort group of the stored flags: urgent, side effects, other attention, nothing."""
    levels = {f.level for f in flags}
    if "urgent" in levels:
        return URGENT
    attention = [f for f in flags if f.level == "attention"]
    if any(f.code in SIDE_EFFECT_CODES for f in attention):
        return SIDE_EFFECTS
    return OTHER_ATTENTION if attention else NOTHING


def level_rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _next_step(steps: Sequence[PlannedDose], dose: float | None) -> PlannedDose | None:
    """The first step above the last dose taken (the first step before any dose)."""
    ordered = sorted(steps, key=lambda s: s.start)
    if dose is None:
        return ordered[0] if ordered else None
    return next((s for s in ordered if s.dose_mg > dose), None)


def _scores(rows: Sequence[Any]) -> list[Score]:
    instruments = load_instruments()
    found = []
    for row in rows:
        known = instruments.get(row.instrument)
        if known is None:
            continue
        items = {item.id for item in known.items}
        try:
            found.append(score(known, {k: v for k, v in row.answers.items() if k in items},
                               row.answered_at.date()))
        except InputError:
            continue  # stored before its definition changed: shown unscored, no flags
    return found


@cache
def _upsert(dialect: str) -> Insert:
    # Imported here: loading both dialects costs every command ~20 ms, and one is used.
    from sqlalchemy.dialects import postgresql, sqlite

    values: dict[str, Any] = {c.name: bindparam(c.name) for c in _STATUS.columns}
    insert = (postgresql.insert(_STATUS) if dialect == "postgresql"
              else sqlite.insert(_STATUS)).values(values)
    changed = {name: insert.excluded[name] for name in values if name != "patient_id"}
    return insert.on_conflict_do_update(index_elements=["patient_id"], set_=changed)
