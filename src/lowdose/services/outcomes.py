"""Is it working, and who needs attention? The stored diary through the core analyses (issue 4).

Both use cases read the record under `PatientAction.READ_RECORD`, audit the read, and hand the
diary to the pure core: `core.outcomes.analyze_outcomes` (the same call `lowdose analyze` makes
on a CSV, so both give the same numbers) and `core.monitoring.monitor`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from lowdose.core.diary import CheckIn, PlannedDose, observations
from lowdose.core.flags import Flag
from lowdose.core.instruments import Score
from lowdose.core.monitoring import monitor
from lowdose.core.outcomes import OutcomeReport, analyze_outcomes
from lowdose.errors import InputError
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import MonitoringRules, load_monitoring_rules
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services.checkins import _stored_effects
from lowdose.services.context import Context
from lowdose.services.courses import _courses, current_plan
from lowdose.services.questionnaires import stored_score
from lowdose.store.db import Database
from lowdose.store.models import Checkin, QuestionnaireResponse


def analyze_patient(db: Database, ctx: Context, patient_id: int, *, start: date | None = None,
                    onset_days: int | None = None) -> OutcomeReport:
    """Baseline against treatment per rated measure; `start` defaults to the first LDN course."""
    if onset_days is not None and onset_days < 0:
        raise InputError("onset_days", "must be 0 or more")
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "outcomes.analyze") as access:
        if start is None:
            started = [course.started_on for course in _courses(access)]
            if not started:
                raise InputError("start", "no LDN course is recorded yet, so there is no "
                                          "start day to compare against")
            start = min(started)
        diary = observations(_rated_days(access))
    # The analysis is pure and the read is audited: run it after the transaction, so the
    # SQLite writer lock (held by every audited transaction) is not held while it computes.
    return analyze_outcomes(diary, start=start, instruments=load_instruments(),
                            rules=load_monitoring_rules(), onset_days=onset_days)


def patient_flags(db: Database, ctx: Context, patient_id: int) -> list[Flag]:
    """The monitoring flags of one patient today, most severe first, questionnaire alerts
    (PHQ-9 item 9 with its crisis guidance) included."""
    today = ctx.now.date()
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "flags.list") as access:
        running = current_plan(access, today)
        steps = running[1].plan["steps"] if running and running[1] else []
        plan = [PlannedDose(date.fromisoformat(s["from"]), float(s["dose_mg"])) for s in steps]
        rules = load_monitoring_rules()
        return monitor(_monitored_diary(access, today, rules), today=today, rules=rules,
                       course=load_side_effects(), plan=plan, instruments=load_instruments(),
                       scores=_recent_scores(access.session, access.patient.id, today, rules))


def _recent_scores(session: Session, patient_id: int, today: date,
                  rules: MonitoringRules) -> list[Score]:
    """Scores of the questionnaires answered in the monitoring's recent window."""
    since = datetime.combine(today - timedelta(days=rules.window.recent_days - 1), time.min)
    rows = session.scalars(select(QuestionnaireResponse).where(
        QuestionnaireResponse.patient_id == patient_id,
        QuestionnaireResponse.answered_at >= since)).all()
    return [found for row in rows if (found := stored_score(row)) is not None]


# The columns a core check-in needs, as plain rows: the stored values were checked when they
# were written, and ORM objects or validated views of a year of diary cost more than the
# analyses that read them.
_DIARY = select(Checkin.date, Checkin.dose_taken, Checkin.dose_mg, Checkin.dose_time,
                Checkin.ratings, Checkin.side_effects, Checkin.note)


def _diary(access: Access) -> list[CheckIn]:
    """The patient's whole diary, oldest first."""
    rows = access.session.execute(_DIARY.where(Checkin.patient_id == access.patient.id)
                                  .order_by(Checkin.date)).all()
    return [_core_checkin(row) for row in rows]


def _rated_days(access: Access) -> list[CheckIn]:
    """The diary as the outcome analysis reads it: each day's ratings, nothing else."""
    rows = access.session.execute(select(Checkin.date, Checkin.ratings)
                                  .where(Checkin.patient_id == access.patient.id)
                                  .order_by(Checkin.date)).all()
    return [CheckIn(day=day, ratings=ratings) for day, ratings in rows]


def _monitored_diary(access: Access, today: date, rules: MonitoringRules) -> list[CheckIn]:
    """What `monitor` reads of the diary: its look-back window and the last check-in up to
    today (how long the diary has been silent), so the flags cost the same in year two."""
    since = today - timedelta(days=rules.window.lookback_days - 1)
    mine = Checkin.patient_id == access.patient.id
    last = select(func.max(Checkin.date)).where(mine, Checkin.date <= today).scalar_subquery()
    rows = access.session.execute(_DIARY.where(mine, or_(Checkin.date >= since,
                                                         Checkin.date == last))
                                  .order_by(Checkin.date)).all()
    return [_core_checkin(row) for row in rows]


def _core_checkin(row: Row[Any]) -> CheckIn:
    return CheckIn(day=row.date, dose_taken=row.dose_taken, dose_mg=row.dose_mg,
                   dose_time=row.dose_time, ratings=dict(row.ratings),
                   side_effects=_stored_effects(row.side_effects), note=row.note or "")
