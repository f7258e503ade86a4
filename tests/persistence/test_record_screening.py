"""Screening a stored record gives the same answer as screening the same profile sent as JSON
(design §3.1 → §3.2), with the LDN dose and time taken from the running plan and the last
dose from the diary."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from lowdose.core.screening import screen
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.schemas.screening import profile_from_json
from lowdose.services import checkins, courses, medicines, patients, procedures, screening
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest
from lowdose.services.errors import Forbidden, NotFound

from .conftest import Cast

AS_OF = datetime(2025, 6, 2, 9, 0)
# The example profile of design §3.1.
DESIGN_EXAMPLE: dict[str, Any] = {
    "as_of": "2025-06-02T09:00",
    "age": 52, "weight_kg": 70, "sex": "female",
    "pregnant": False, "breastfeeding": False,
    "conditions": ["fibromyalgia", "compensated cirrhosis"],
    "medications": [
        {"text": "Norco 5/325 mg every 6 h as needed", "last_taken": "2025-06-01"},
        {"rxnorm": "857002",
         "text": "acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet"},
    ],
    "ldn": {"dose_mg": 4.5, "time": "22:00", "last_taken": "2025-06-01T22:00"},
    "procedures": [{"name": "knee replacement", "at": "2025-06-04T08:00",
                    "opioids_expected": True}],
}


def _store_design_example(cast: Cast) -> None:
    """Enter the §3.1 example into Alice's record the way a clinician and Alice would."""
    clinician, alice = cast.ctx("clinician"), cast.ids.alice
    patients.update_profile(cast.db, clinician, alice, birth_date=date(1973, 1, 15),
                            weight_kg=70, sex="female", pregnant=False, breastfeeding=False,
                            conditions=("fibromyalgia", "compensated cirrhosis"))
    medicines.add_medicine(cast.db, clinician, alice, text="Norco 5/325 mg every 6 h as needed",
                           last_taken=date(2025, 6, 1))
    medicines.add_medicine(cast.db, clinician, alice, rxnorm="857002",
                           text="acetaminophen 325 MG / hydrocodone bitartrate 5 MG Oral Tablet")
    courses.start_course(cast.db, clinician, alice, started_on=date(2025, 5, 1),
                         first_plan=PlanRequest(from_date=date(2025, 5, 1), start_mg=4.5,
                                                target_mg=4.5))
    checkins.record_checkin(cast.db, cast.ctx("patient"), alice,
                            CheckinInput(date=date(2025, 6, 1), dose_taken=True,
                                         dose_time=time(22, 0)))
    procedures.add_procedure(cast.db, clinician, alice, name="knee replacement",
                             at=datetime(2025, 6, 4, 8, 0), opioids_expected=True)


def test_the_record_screen_equals_the_screen_of_the_same_profile_as_json(cast: Cast) -> None:
    _store_design_example(cast)
    stored = screening.screen_patient(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                      as_of=AS_OF)
    sent = screen(profile_from_json(DESIGN_EXAMPLE), load_screening_knowledge())
    assert stored.profile == profile_from_json(DESIGN_EXAMPLE)
    assert stored.result.to_dict() == sent.to_dict()
    assert stored.to_dict()["verdict"] == "contraindicated"  # Norco taken yesterday


def test_the_ldn_dose_follows_the_plan_step_of_the_day(cast: Cast) -> None:
    clinician = cast.ctx("clinician")
    courses.start_course(cast.db, clinician, cast.ids.alice, started_on=date(2025, 5, 1),
                         first_plan=PlanRequest(from_date=date(2025, 5, 1), start_mg=1.5,
                                                step_mg=1.5, every_days=7, target_mg=4.5))
    doses = {day: screening.screen_patient(cast.db, clinician, cast.ids.alice,
                                           as_of=datetime.combine(day, time(9))).profile.ldn
             for day in (date(2025, 5, 1), date(2025, 5, 8), date(2025, 5, 20))}
    assert {day: use.dose_mg for day, use in doses.items() if use} == {
        date(2025, 5, 1): 1.5, date(2025, 5, 8): 3.0, date(2025, 5, 20): 4.5}
    assert {use.time for use in doses.values() if use} == {time(22, 0)}


def test_a_dose_time_still_ahead_today_is_not_the_last_dose(cast: Cast) -> None:
    alice = cast.ids.alice
    for day in (date(2025, 6, 1), date(2025, 6, 2)):
        checkins.record_checkin(cast.db, cast.ctx("patient"), alice,
                                CheckinInput(date=day, dose_taken=True, dose_time=time(22)))
    ldn = screening.screen_patient(cast.db, cast.ctx("patient"), alice, as_of=AS_OF).profile.ldn
    assert ldn is not None and ldn.last_taken == datetime(2025, 6, 1, 22, 0)


def test_removed_medicines_and_cancelled_procedures_are_not_screened(cast: Cast) -> None:
    clinician, alice = cast.ctx("clinician"), cast.ids.alice
    wrong = medicines.add_medicine(cast.db, clinician, alice, text="oxycodone 5 mg",
                                   last_taken=date(2025, 6, 1))
    medicines.remove_medicine(cast.db, clinician, alice, wrong.id)
    surgery = procedures.add_procedure(cast.db, clinician, alice, name="hernia repair",
                                       at=AS_OF + timedelta(days=2), opioids_expected=True)
    procedures.cancel_procedure(cast.db, clinician, alice, surgery.id)
    result = screening.screen_patient(cast.db, clinician, alice, as_of=AS_OF)
    assert (result.profile.medications, result.profile.procedures) == ((), ())
    assert result.result.verdict == "ok"


@pytest.mark.parametrize(("persona", "error"), [
    ("patient", None), ("clinician", None), ("team_admin", None),
    ("admin", Forbidden), ("second_patient", NotFound), ("other_clinician", NotFound),
])
def test_who_may_screen_alices_record(cast: Cast, persona: str,
                                      error: type[Exception] | None) -> None:
    if error is None:
        assert screening.screen_patient(cast.db, cast.ctx(persona), cast.ids.alice,
                                        as_of=AS_OF).patient_id == cast.ids.alice
    else:
        with pytest.raises(error):
            screening.screen_patient(cast.db, cast.ctx(persona), cast.ids.alice, as_of=AS_OF)
