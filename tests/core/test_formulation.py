"""Liquid and capsule arithmetic: strength, measurable dose, supply, refill, beyond-use, cost."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lowdose.core.formulation import Formulation, formulate, home_dilution
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_formulation_facts
from lowdose.schemas.regimens import FormulateRequest, FormulationResponse

FACTS = load_formulation_facts()
START = date(2025, 6, 2)


def liquid(dose_mg: float = 4.5, quantity: float = 30, **kwargs: object) -> Formulation:
    kwargs.setdefault("mg_per_ml", 1)
    return formulate(dose_mg=dose_mg, form="liquid", quantity=quantity, start=START,
                     facts=FACTS, **kwargs)  # type: ignore[arg-type]


def capsules(dose_mg: float = 4.5, quantity: float = 30, **kwargs: object) -> Formulation:
    return formulate(dose_mg=dose_mg, form="capsule", quantity=quantity, start=START,
                     facts=FACTS, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tablets", "volume_ml", "mg_per_ml"),
    [
        (2, 100, 1.0),  # Fawcett 1997: 2 × 50 mg tablets to 100 mL
        (1, 50, 1.0),  # the home dilution
        (1, 10, 5.0),  # AHS recipe 156 strength
        (3, 100, 1.5),
    ],
)
def test_liquid_strength_comes_from_50_mg_tablets_in_the_volume(
    tablets: int, volume_ml: float, mg_per_ml: float
) -> None:
    made = liquid(mg_per_ml=None, tablets=tablets, volume_ml=volume_ml)
    assert made.mg_per_ml == mg_per_ml


def test_tablet_strength_can_be_given() -> None:
    assert liquid(mg_per_ml=None, tablets=1, tablet_mg=25, volume_ml=25).mg_per_ml == 1.0


@pytest.mark.parametrize(
    ("dose_mg", "mg_per_ml", "resolution_ml", "volume_ml", "measured_ml", "delivered_mg"),
    [
        (0.5, 5, 0.1, 0.1, 0.1, 0.5),  # LDNRT: 0.1 mL of 5 mg/mL is 0.5 mg
        (4.5, 5, 0.1, 0.9, 0.9, 4.5),
        (4.5, 1, 0.1, 4.5, 4.5, 4.5),
        (1.75, 5, 0.1, 0.35, 0.4, 2.0),  # halfway between marks: the higher mark
        (4.5, 2, 0.1, 2.25, 2.3, 4.6),
        (1.2, 5, 0.1, 0.24, 0.2, 1.0),
        (1.2, 5, 0.05, 0.24, 0.25, 1.25),
    ],
)
def test_syringe_measures_the_nearest_mark(
    dose_mg: float, mg_per_ml: float, resolution_ml: float, volume_ml: float,
    measured_ml: float, delivered_mg: float,
) -> None:
    made = liquid(dose_mg, mg_per_ml=mg_per_ml, syringe_resolution_ml=resolution_ml)
    assert made.volume_ml == pytest.approx(volume_ml)
    assert made.measurable_volume_ml == pytest.approx(measured_ml)
    assert made.delivered_mg == pytest.approx(delivered_mg)
    assert made.rounding_error_mg == pytest.approx(delivered_mg - dose_mg)


def test_default_syringe_resolution_is_a_tenth_of_a_ml() -> None:
    assert FACTS.syringe_resolution_ml == 0.1
    assert liquid(1.75, mg_per_ml=5).measurable_volume_ml == pytest.approx(0.4)


@pytest.mark.parametrize("dose_mg", [0.2, 0.25])
def test_a_dose_at_or_under_half_a_mark_is_refused_rather_than_doubled(dose_mg: float) -> None:
    # 0.04 or 0.05 mL of 5 mg/mL: the first 0.1 mL mark would give 0.5 mg, twice 0.25 mg or
    # more (the LDNRT liquid protocol measures 0.5 mg as 0.1 mL, clinical-facts 1b and 2).
    with pytest.raises(InputError) as caught:
        liquid(dose_mg, mg_per_ml=5)
    assert caught.value.field == "dose_mg"
    assert "weaker liquid" in caught.value.message


@pytest.mark.parametrize(
    ("dose_mg", "mg_per_ml", "quantity", "storage", "days", "usable", "waste_ml"),
    [
        (4.5, 1, 30, "room", 6, 6, 0.0),  # 4.5 mL a day: 6 days
        (4.5, 1, 150, "room", 33, 30, 15.0),  # 30-day BUD at room temperature
        (4.5, 5, 100, "room", 111, 30, 73.0),  # 0.9 mL a day, 27 mL used before the BUD
        (4.5, 5, 100, "fridge", 111, 60, 46.0),  # 60 days refrigerated
        (1.5, 1, 45, "fridge", 30, 30, 0.0),
    ],
)
def test_supply_is_limited_by_volume_and_by_the_beyond_use_date(
    dose_mg: float, mg_per_ml: float, quantity: float, storage: str, days: int, usable: int,
    waste_ml: float,
) -> None:
    made = liquid(dose_mg, quantity, mg_per_ml=mg_per_ml, storage=storage, lead_days=5)
    shelf = {"room": FACTS.liquid_room_days, "fridge": FACTS.liquid_fridge_days}[storage]
    assert made.days_of_supply == days
    assert made.usable_days == usable
    assert made.waste_ml == pytest.approx(waste_ml)
    assert made.beyond_use_date == START + timedelta(days=shelf)
    assert made.run_out == START + timedelta(days=usable)
    assert made.refill_by == START + timedelta(days=usable - 5)


def test_liquid_keeps_30_days_at_room_temperature_and_60_in_the_fridge() -> None:
    assert (FACTS.liquid_room_days, FACTS.liquid_fridge_days) == (30, 60)


def test_capsules_last_one_a_day_with_no_beyond_use_date() -> None:
    made = capsules(quantity=90, lead_days=7)
    assert (made.days_of_supply, made.usable_days) == (90, 90)
    assert made.beyond_use_date is None and made.waste_ml is None
    assert made.refill_by == START + timedelta(days=83)
    assert made.measurable_volume_ml is None


def test_a_part_capsule_count_is_refused() -> None:
    # 30.5 capsules cannot be dispensed: the count is a typo, not a supply.
    with pytest.raises(InputError) as caught:
        capsules(quantity=30.5)
    assert caught.value.field == "quantity" and "30.5" in caught.value.message


def test_refill_lead_time_defaults_to_the_knowledge_value() -> None:
    assert capsules().refill_by == START + timedelta(days=30 - FACTS.refill_lead_days)


def test_refill_is_not_before_the_start() -> None:
    assert capsules(quantity=3, lead_days=7).refill_by == START


def test_capsule_note_warns_against_slow_release_and_calcium_carbonate() -> None:
    made = capsules()
    assert any("calcium carbonate" in n and "slow-release" in n for n in made.notes)
    assert "compounder-fillers" in made.sources


def test_monthly_cost_scales_the_fill_price_to_an_average_month() -> None:
    assert capsules(quantity=30, price=60).monthly_cost == pytest.approx(60 * 30.4375 / 30)
    # A liquid that expires before it runs out costs a fill per beyond-use period.
    assert liquid(4.5, 100, mg_per_ml=5, price=30).monthly_cost == pytest.approx(30.4375)
    assert capsules().monthly_cost is None


def test_home_dilution_is_one_tablet_in_50_ml_and_always_carries_the_warning() -> None:
    recipe = home_dilution(FACTS)
    assert (recipe.tablets, recipe.volume_ml, recipe.mg_per_ml) == (1, 50, 1.0)
    assert "not validated" in recipe.warning
    assert {"medisca-home-compounding", "home-dilution-lay"} <= set(recipe.sources)
    assert recipe.to_dict()["warning"] == recipe.warning


def test_liquid_worked_out_from_tablets_warns_about_home_dilution() -> None:
    warning = FACTS.home_dilution.warning.text
    assert warning in liquid(mg_per_ml=None, tablets=1, volume_ml=50).notes
    assert warning not in liquid(mg_per_ml=1).notes


def test_formulation_json_has_what_the_cli_shows() -> None:
    data = liquid(4.5, 100, mg_per_ml=5, lead_days=7).to_dict()
    assert data["mg_per_ml"] == 5.0
    assert data["volume_ml"] == 0.9
    assert data["measurable_volume_ml"] == 0.9
    assert data["days_of_supply"] == 111
    assert data["refill_by"] == "2025-06-25"
    assert data["beyond_use_date"] == "2025-07-02"
    assert "fawcett-1997" in data["sources"]


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("dose_mg", lambda: liquid(0)),
        ("dose_mg", lambda: liquid(math.nan)),
        ("dose_mg", lambda: capsules(0.04)),
        ("dose_mg", lambda: capsules(0.05)),  # a 0.1 mg capsule would be twice the dose
        ("dose_mg", lambda: capsules(45)),  # above 12 mg, the highest LDN dose (clin. facts 1a)
        ("dose_mg", lambda: liquid(12.1, 100)),
        ("quantity", lambda: liquid(quantity=0)),
        ("quantity", lambda: liquid(4.5, 4)),  # less than one 4.5 mL dose
        ("mg_per_ml", lambda: liquid(mg_per_ml=None)),
        ("mg_per_ml", lambda: liquid(mg_per_ml=1, tablets=1, volume_ml=50)),
        ("mg_per_ml", lambda: liquid(mg_per_ml=-1)),
        ("tablets", lambda: liquid(mg_per_ml=None, tablets=0, volume_ml=50)),
        ("volume_ml", lambda: liquid(mg_per_ml=None, tablets=1, volume_ml=0)),
        ("syringe_resolution_ml", lambda: liquid(syringe_resolution_ml=0)),
        ("mg_per_ml", lambda: capsules(mg_per_ml=1)),
        ("lead_days", lambda: capsules(lead_days=-1)),
        ("price", lambda: capsules(price=-5)),
        ("storage", lambda: liquid(storage="freezer")),
        ("form", lambda: formulate(dose_mg=1, form="patch", quantity=1, start=START,  # type: ignore[arg-type]
                                   facts=FACTS)),
    ],
)
def test_bad_input_names_the_field(field: str, call: object) -> None:
    with pytest.raises(InputError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


doses = st.decimals(min_value="0.1", max_value="12", places=2).map(float)
strengths = st.sampled_from([0.5, 1.0, 2.0, 2.5, 5.0])
resolutions = st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.2])


@given(dose=doses, conc=strengths, res=resolutions)
def test_delivered_dose_is_within_half_a_mark_of_the_dose_asked_for(
    dose: float, conc: float, res: float
) -> None:
    try:
        made = liquid(dose, 1000, mg_per_ml=conc, syringe_resolution_ml=res)
    except InputError as error:  # only a dose at or below half a mark may be refused
        assert error.field == "dose_mg" and dose / conc <= res / 2
        return
    assert made.max_rounding_error_mg == pytest.approx(res * conc / 2)
    assert abs(made.rounding_error_mg) <= made.max_rounding_error_mg + 1e-9
    assert made.measurable_volume_ml is not None and made.measurable_volume_ml > 0


@given(dose=doses, conc=strengths, quantity=st.integers(min_value=10, max_value=500),
       lead=st.integers(min_value=0, max_value=30), fridge=st.booleans())
def test_supply_never_promises_more_than_the_bottle_holds(
    dose: float, conc: float, quantity: int, lead: int, fridge: bool
) -> None:
    try:
        made = liquid(dose, quantity, mg_per_ml=conc, lead_days=lead,
                      storage="fridge" if fridge else "room")
    except InputError as error:
        assert error.field in ("dose_mg", "quantity")
        return
    assert made.measurable_volume_ml is not None
    assert made.days_of_supply * made.measurable_volume_ml <= quantity + 1e-9
    assert made.usable_days <= made.days_of_supply
    assert made.refill_by <= made.run_out
    assert made.beyond_use_date is not None and made.run_out <= made.beyond_use_date


@given(dose=doses, quantity=st.integers(min_value=1, max_value=400),
       lead=st.integers(min_value=0, max_value=30))
def test_capsule_supply_is_one_a_day_and_refill_comes_before_running_out(
    dose: float, quantity: int, lead: int
) -> None:
    made = capsules(dose, quantity, lead_days=lead)
    assert made.days_of_supply == quantity
    assert made.refill_by <= made.run_out == START + timedelta(days=quantity)


def test_formulate_request_json_gives_the_same_result_and_a_valid_response() -> None:
    request = FormulateRequest.model_validate(
        {"dose_mg": 4.5, "form": "liquid", "quantity": 100, "start": "2025-06-02",
         "mg_per_ml": 5, "lead_days": 7})
    made = formulate(**request.to_core(), facts=FACTS)
    assert made == liquid(4.5, 100, mg_per_ml=5, lead_days=7)
    assert FormulationResponse.model_validate(made.to_dict()).refill_by == date(2025, 6, 25)
    assert FormulationResponse.model_validate(capsules().to_dict()).beyond_use_date is None


def test_formulate_request_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="bottle_ml"):
        FormulateRequest.model_validate({"dose_mg": 4.5, "form": "capsule", "quantity": 30,
                                         "start": "2025-06-02", "bottle_ml": 100})


@pytest.mark.parametrize(
    ("dose_mg", "mg_per_ml", "said"),
    [
        (0.3, 5, "0.5 mg, 67% more than the 0.3 mg asked for"),  # 0.06 mL reads as 0.1 mL
        (1.2, 5, "1 mg, 17% less than the 1.2 mg asked for"),  # 0.24 mL reads as 0.2 mL
    ],
)
def test_a_dose_the_syringe_measures_far_off_says_by_how_much(dose_mg: float, mg_per_ml: float,
                                                                said: str) -> None:
    # The syringe's marks decide the dose (LDNRT pharmacist protocol, clinical-facts 1b): when
    # that is more than a tenth off, the user is told in numbers, not that it "may differ
    # slightly", and is sent to the pharmacist or clinician.
    made = liquid(dose_mg, mg_per_ml=mg_per_ml)
    assert said in made.notes[0]
    assert "weaker liquid" in made.notes[0] and "pharmacist or clinician" in made.notes[0]


def test_a_dose_the_syringe_measures_closely_gets_no_such_note() -> None:
    made = liquid(4.5, mg_per_ml=2)  # 2.25 mL reads as 2.3 mL: 4.6 mg, 2% over
    assert not any("more than the" in note or "less than the" in note for note in made.notes)


def test_a_capsule_dose_far_off_its_strength_step_says_so() -> None:
    made = capsules(0.15)  # filled as 0.2 mg
    assert "0.2 mg, 33% more than the 0.15 mg asked for" in made.notes[0]
