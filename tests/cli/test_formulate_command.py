"""`lowdose formulate`: liquid and capsule supply math from the formulation facts."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from lowdose.knowledge.regimens import load_formulation_facts

RunLowdose = Callable[..., Any]
FACTS = load_formulation_facts()
START = date(2025, 6, 2)


@pytest.mark.parametrize(
    ("dose", "mg_per_ml", "quantity", "storage", "shelf_days"),
    [
        # 1 mg/mL Fawcett liquid: 30 days at room temperature, 60 in the fridge (fawcett-1997)
        (1.5, 1.0, 60, "room", FACTS.liquid_room_days),
        (1.5, 1.0, 60, "fridge", FACTS.liquid_fridge_days),
        # 5 mg/mL AHS liquid: 0.1 mL = 0.5 mg (ldnrt-pharmacist-titration)
        (4.5, 5.0, 30, "room", FACTS.liquid_room_days),
        (0.5, 5.0, 10, "fridge", FACTS.liquid_fridge_days),
    ],
)
def test_liquid_supply_lasts_until_it_runs_out_or_passes_its_use_by_date(
    lowdose: RunLowdose, dose: float, mg_per_ml: float, quantity: float, storage: str,
    shelf_days: int,
) -> None:
    run = lowdose("formulate", "--dose", str(dose), "--mg-per-ml", str(mg_per_ml),
                  "--quantity", str(quantity), "--storage", storage, "--start",
                  START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    volume = dose / mg_per_ml
    days = math.floor(quantity / volume + 1e-9)
    usable = min(days, shelf_days)
    assert out["form"] == "liquid"
    assert out["mg_per_ml"] == mg_per_ml
    assert out["volume_ml"] == pytest.approx(volume)
    assert out["measurable_volume_ml"] == pytest.approx(volume)
    assert out["days_of_supply"] == days
    assert out["usable_days"] == usable
    assert out["beyond_use_date"] == (START + timedelta(days=shelf_days)).isoformat()
    run_out = START + timedelta(days=usable)
    assert out["refill_by"] == (run_out - timedelta(days=FACTS.refill_lead_days)).isoformat()


def test_a_syringe_measures_only_to_its_marks(lowdose: RunLowdose) -> None:
    # 1.25 mg of 1 mg/mL is 1.25 mL; a 0.1 mL syringe gives 1.3 mL (rounding half up).
    run = lowdose("formulate", "--dose", "1.25", "--mg-per-ml", "1", "--quantity", "50",
                  "--start", START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["volume_ml"] == 1.25
    assert out["measurable_volume_ml"] == 1.3
    assert out["delivered_mg"] == pytest.approx(1.3)


def test_liquid_from_tablets_is_always_shown_with_the_home_dilution_warning(
    lowdose: RunLowdose,
) -> None:
    run = lowdose("formulate", "--dose", "1.5", "--tablets", "1", "--volume-ml", "50",
                  "--quantity", "50", "--start", START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["mg_per_ml"] == FACTS.tablet_mg / 50
    assert FACTS.home_dilution.warning.text in out["notes"]
    assert set(FACTS.home_dilution.warning.sources) <= set(out["sources"])


def test_capsules_are_one_a_day(lowdose: RunLowdose) -> None:
    run = lowdose("formulate", "--dose", "4.5", "--quantity", "30", "--start",
                  START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["form"] == "capsule"
    assert out["days_of_supply"] == 30
    assert out["refill_by"] == (START + timedelta(days=30 - FACTS.refill_lead_days)).isoformat()
    assert FACTS.fillers.text in out["notes"]


def test_human_output_names_volume_supply_and_refill(lowdose: RunLowdose) -> None:
    run = lowdose("formulate", "--dose", "1.5", "--mg-per-ml", "1", "--quantity", "60",
                  "--start", START.isoformat())
    assert run.code == 0, run.stderr
    for label in ("Strength (mg/mL)", "Volume per dose (mL)", "Measurable volume (mL)",
                  "Days of supply", "Refill by", "it does not make them"):
        assert label in run.stdout
    assert "[fawcett-1997]" in run.stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--dose", "0", "--quantity", "30"], "--dose"),
        (["--dose", "4.5", "--quantity", "0"], "--quantity"),
        (["--dose", "4.5", "--quantity", "30", "--form", "capsule", "--mg-per-ml", "1"],
         "--mg-per-ml"),
        (["--dose", "4.5", "--quantity", "30", "--form", "liquid"], "--mg-per-ml"),
        (["--dose", "0.01", "--quantity", "30", "--mg-per-ml", "5"], "--dose"),
        (["--dose", "4.5", "--quantity", "30", "--price", "-1"], "--price"),
        (["--dose", "4.5", "--quantity", "30", "--start", "tomorrow"], "--start"),
    ],
)
def test_bad_values_exit_1_naming_the_option(
    lowdose: RunLowdose, args: list[str], option: str
) -> None:
    run = lowdose("formulate", *args)
    assert run.code == 1
    assert run.stderr.startswith(f"error: {option}: ")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("dose", ["45", "50"])
def test_a_dose_above_the_highest_ldn_dose_in_the_sources_is_refused(
    lowdose: RunLowdose, dose: str
) -> None:
    # LDN is 1-5 mg; the highest dose in the sources is 12 mg (clinical-facts 1a, Bolton
    # 2020). 45 mg is likely a typo for 4.5 mg: no supply is worked out for it.
    run = lowdose("formulate", "--dose", dose, "--quantity", "30", "--json")
    assert run.code == 1
    assert run.stderr.startswith("error: --dose: ")
    assert "12 mg" in run.stderr
    assert run.stdout == ""


def test_missing_dose_is_a_usage_error(lowdose: RunLowdose) -> None:
    run = lowdose("formulate", "--quantity", "30")
    assert run.code == 2
    assert "--dose" in run.stderr
