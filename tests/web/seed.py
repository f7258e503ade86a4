"""A lived-in record for Alice, through the services: a course started weeks ago, a diary
before and after, a medicine, a planned operation, a questionnaire. Pages shown with it have
something on every part."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lowdose.services import checkins, courses, medicines, procedures, questionnaires
from lowdose.services.courses import PlanRequest
from persistence.conftest import Cast

BASELINE_DAYS = 21
TREATED_DAYS = 45


def lived_in(cast: Cast, note: str = "", side_effect: str = "vivid dreams",
             medicine: str = "sertraline 50 mg daily", procedure: str = "knee replacement"
             ) -> date:
    """Fill Alice's record; free-text fields take the given text. Returns the LDN start."""
    now = datetime.now(UTC)
    today = now.date()
    patient, clinician = cast.ctx("patient", now=now), cast.ctx("clinician", now=now)
    alice = cast.ids.alice
    started = today - timedelta(days=TREATED_DAYS)
    courses.start_course(cast.db, clinician, alice, started_on=started,
                         first_plan=PlanRequest(from_date=started, protocol="dartmouth-weekly",
                                                liquid_mg_per_ml=1.0))
    for back in range(BASELINE_DAYS + TREATED_DAYS, -1, -1):
        day = today - timedelta(days=back)
        treated = day >= started
        pain = 7 - (2 if day >= started + timedelta(days=28) else 0) + back % 2
        effects = ([{"name": side_effect, "severity": 1 + back % 2}]
                   if treated and day < started + timedelta(days=10) else [])
        checkins.record_checkin(cast.db, patient, alice, checkins.CheckinInput.from_dict({
            "date": day.isoformat(), "dose_taken": treated,
            "dose_mg": 1.5 if treated else None,
            "ratings": {"pain": pain, "sleep": 6 + back % 3, "fatigue": 5},
            "side_effects": effects, "note": note or None}))
    medicines.add_medicine(cast.db, patient, alice, text=medicine)
    procedures.add_procedure(cast.db, patient, alice, name=procedure,
                             at=datetime.combine(today + timedelta(days=12),
                                                 datetime.min.time()).replace(hour=8))
    questionnaires.record_response(cast.db, patient, alice, instrument="gad7",
                                   answered_at=now.replace(tzinfo=None, microsecond=0),
                                   answers={str(n): 1 for n in range(1, 8)})
    return started
