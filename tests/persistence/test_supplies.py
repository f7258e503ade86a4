"""Dispensed supplies on the record: stored as given, append-only, and counted down at the dose
in force to a refill-by date (or, with no dose to count with, a plain "unknown")."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from lowdose.errors import InputError
from lowdose.services import courses, supplies
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.models import Supply

from .conftest import NOW, Cast

TODAY = NOW.date()  # 2 June 2025: the first day of Alice's plan, 1.5 mg


def _plan(cast: Cast) -> None:
    """Alice's course: 1.5 mg from today, then 3 and 4.5 mg, a week each."""
    courses.start_course(cast.db, cast.ctx("clinician"), cast.ids.alice, started_on=TODAY,
                         first_plan=courses.PlanRequest(from_date=TODAY,
                                                        protocol="dartmouth-weekly"))


def _stored(cast: Cast) -> int:
    with cast.db.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Supply)) or 0


def test_capsules_last_a_day_each_and_the_refill_is_due_a_week_before_they_run_out(
        cast: Cast) -> None:
    _plan(cast)
    added = supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice,
                                dispensed_on=TODAY, form="capsule", quantity=30, strength=1.5,
                                price=45)
    assert added.dose_mg == 1.5
    shown = added.to_dict()
    assert shown["days_of_supply"] == 30
    # Runs out on 2 July; the pharmacy needs 7 days' notice.
    assert shown["refill_by"] == "2025-06-25"
    assert shown["monthly_cost"] == pytest.approx(45 / 30 * 365.25 / 12, abs=0.01)
    [listed] = supplies.list_supplies(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert listed.to_dict() == shown
    assert (listed.form, listed.quantity, listed.strength, listed.price) == (
        "capsule", 30, 1.5, 45)


def test_a_liquid_runs_out_by_volume_or_by_its_beyond_use_date(cast: Cast) -> None:
    _plan(cast)
    # 1.5 mg of 1 mg/mL is 1.5 mL a day: 40 mL is 26 days, gone on 28 June.
    short = supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice,
                                dispensed_on=TODAY, form="liquid", quantity=40, strength=1)
    assert (short.to_dict()["days_of_supply"], short.refill_by) == (26, date(2025, 6, 21))
    assert short.to_dict()["monthly_cost"] is None
    # 100 mL would last 66 days, but a liquid kept at room temperature is used within 30.
    long = supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice,
                               dispensed_on=TODAY, form="liquid", quantity=100, strength=1)
    assert long.refill_by == date(2025, 6, 25)
    assert long.formulation is not None and long.formulation.waste_ml == pytest.approx(55)


def test_without_a_plan_the_dose_is_unknown_and_no_refill_date_is_guessed(cast: Cast) -> None:
    added = supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice,
                                dispensed_on=TODAY, form="capsule", quantity=30, strength=1.5)
    shown = added.to_dict()
    assert (shown["dose_mg"], shown["days_of_supply"], shown["refill_by"]) == (None, None, None)
    assert shown["notes"] == [supplies.NO_DOSE]
    assert _stored(cast) == 1  # the supply itself is kept


def test_capsules_of_another_strength_than_the_dose_get_no_refill_date(cast: Cast) -> None:
    _plan(cast)
    added = supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice,
                                dispensed_on=TODAY, form="capsule", quantity=30, strength=4.5)
    assert added.refill_by is None
    assert "4.5 mg" in added.notes[0] and "1.5 mg" in added.notes[0]


def test_a_correction_is_a_new_row_and_the_newest_dispensing_comes_first(cast: Cast) -> None:
    _plan(cast)
    ctx = cast.ctx("patient")
    older = supplies.add_supply(cast.db, ctx, cast.ids.alice, dispensed_on=date(2025, 5, 20),
                                form="capsule", quantity=30, strength=1.5)
    typo = supplies.add_supply(cast.db, ctx, cast.ids.alice, dispensed_on=TODAY,
                               form="capsule", quantity=3, strength=1.5)
    fixed = supplies.add_supply(cast.db, ctx, cast.ids.alice, dispensed_on=TODAY,
                                form="capsule", quantity=30, strength=1.5)
    listed = supplies.list_supplies(cast.db, ctx, cast.ids.alice)
    assert [s.id for s in listed] == [fixed.id, typo.id, older.id]
    assert listed[0].refill_by == date(2025, 6, 25)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"form": "tablets"}, "form"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": float("nan")}, "quantity"),
    ({"strength": -1.5}, "strength"),
    ({"quantity": 1e300}, "quantity"),  # no date lies that far ahead
    ({"strength": 5000}, "strength"),
    ({"price": 1e308}, "price"),
    ({"price": -1}, "price"),
    ({"dispensed_on": date(2025, 6, 3)}, "dispensed_on"),  # tomorrow
])
def test_bad_supplies_name_the_field_and_store_nothing(cast: Cast, kwargs: dict[str, Any],
                                                       field: str) -> None:
    given: dict[str, Any] = {"dispensed_on": TODAY, "form": "capsule", "quantity": 30,
                             "strength": 1.5, **kwargs}
    with pytest.raises(InputError) as refused:
        supplies.add_supply(cast.db, cast.ctx("patient"), cast.ids.alice, **given)
    assert refused.value.field == field
    assert _stored(cast) == 0


@pytest.mark.parametrize(("persona", "error"), [
    ("admin", Forbidden), ("team_admin", Forbidden), ("second_patient", NotFound),
    ("other_clinician", NotFound), ("outsider", NotFound),
])
def test_only_the_patient_and_their_clinician_record_supplies(
        cast: Cast, persona: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        supplies.add_supply(cast.db, cast.ctx(persona), cast.ids.alice, dispensed_on=TODAY,
                            form="capsule", quantity=30, strength=1.5)
    assert _stored(cast) == 0
