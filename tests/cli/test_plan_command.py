"""`lowdose plan`: dated steps from presets and custom numbers, human and JSON, bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from lowdose.knowledge.regimens import load_titration_facts

RunLowdose = Callable[..., Any]  # the `lowdose` fixture (tests/conftest.py)

FACTS = load_titration_facts()
START = date(2025, 6, 2)


def expected_doses(start: float, step: float, target: float) -> list[float]:
    doses = [start]
    while doses[-1] < target:
        doses.append(min(round(doses[-1] + step, 6), target))
    return doses


@pytest.mark.parametrize(
    ("start", "step", "every", "target"),
    [
        (1.5, 0.5, 7, 4.5),  # design §3.3 example
        (1.5, 1.5, 7, 4.5),  # Dartmouth trial weekly steps (nct04678895)
        (0.5, 0.5, 14, 4.5),  # LDNRT prescriber guide, autoimmune (ldnrt-prescriber-guide-2021)
        (1.0, 1.0, 30, 2.0),  # O'Kelly 2022 long COVID (okelly-2022)
    ],
)
def test_custom_plan_steps_up_every_n_days_to_the_target(
    lowdose: RunLowdose, start: float, step: float, every: int, target: float
) -> None:
    run = lowdose("plan", "--start", str(start), "--step", str(step), "--every", str(every),
                  "--target", str(target), "--from", START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    plan = run.json()
    doses = expected_doses(start, step, target)
    assert [s["dose_mg"] for s in plan["steps"]] == doses
    assert [s["from"] for s in plan["steps"]] == [
        (START + timedelta(days=every * i)).isoformat() for i in range(len(doses))]
    assert plan["steps"][-1]["to"] is None  # the target lasts until the plan changes
    assert plan["target_mg"] == target
    assert plan["sources"]


@pytest.mark.parametrize("protocol", [p for p in FACTS.protocols if p.mg_per_kg is None],
                         ids=lambda p: p.name)
def test_every_preset_plans_from_its_cited_numbers(lowdose: RunLowdose, protocol) -> None:
    run = lowdose("plan", "--protocol", protocol.name, "--from", START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    plan = run.json()
    assert plan["protocol"] == protocol.name
    assert plan["steps"][0]["dose_mg"] == protocol.start_mg
    assert plan["steps"][-1]["dose_mg"] == protocol.target_mg
    assert set(protocol.sources) <= set(plan["sources"])
    if protocol.liquid_mg_per_ml:
        assert plan["form"] == "liquid"
        assert plan["mg_per_ml"] == protocol.liquid_mg_per_ml


def test_weight_based_preset_needs_and_uses_the_weight(lowdose: RunLowdose) -> None:
    # paraediatric Crohn's: 0.1 mg/kg a day, at most 4.5 mg (parker-2018-cochrane)
    run = lowdose("plan", "--protocol", "paediatric-weight", "--weight", "30", "--from",
                  START.isoformat(), "--json")
    assert run.code == 0, run.stderr
    assert [s["dose_mg"] for s in run.json()["steps"]] == [3.0]
    missing = lowdose("plan", "--protocol", "paediatric-weight", "--from", START.isoformat())
    assert missing.code == 1
    assert "--weight:" in missing.stderr


def test_liquid_plan_gives_the_volume_of_each_dose(lowdose: RunLowdose) -> None:
    # 1 mg/mL is the Fawcett liquid (fawcett-1997): mL = mg.
    run = lowdose("plan", "--start", "1.5", "--step", "0.5", "--every", "7", "--target", "4.5",
                  "--from", START.isoformat(), "--liquid-mg-per-ml", "1", "--json")
    assert run.code == 0, run.stderr
    steps = run.json()["steps"]
    assert all(s["dose_ml"] == s["dose_mg"] for s in steps)


def test_morning_timing_moves_every_dose_to_the_morning(lowdose: RunLowdose) -> None:
    run = lowdose("plan", "--protocol", "ldnrt-cancer", "--from", START.isoformat(),
                  "--timing", "morning", "--json")
    assert run.code == 0, run.stderr
    morning = FACTS.times.morning.strftime("%H:%M")
    assert {s["time"] for s in run.json()["steps"]} == {morning}


def test_human_output_lists_dated_steps_sources_and_the_reminder(lowdose: RunLowdose) -> None:
    run = lowdose("plan", "--protocol", "dartmouth-weekly", "--from", START.isoformat())
    assert run.code == 0, run.stderr
    for day in ("2025-06-02", "2025-06-09", "2025-06-16"):
        assert day in run.stdout
    assert "[nct04678895]" in run.stdout  # the preset's source, with its citation
    assert "it does not make them" in run.stdout
    assert not run.stdout.lstrip().startswith("{")


def test_plan_starts_today_when_no_date_is_given(lowdose: RunLowdose) -> None:
    before = date.today()
    run = lowdose("plan", "--protocol", "trial-fixed", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["steps"][0]["from"] in {before.isoformat(), date.today().isoformat()}


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--start", "1.5", "--step", "0.5", "--every", "7", "--target", "9"], "--target"),
        (["--start", "0", "--step", "0.5", "--every", "7", "--target", "4.5"], "--start"),
        (["--start", "1.5", "--every", "7", "--target", "4.5"], "--step"),
        (["--start", "1.5", "--step", "0.5", "--target", "4.5"], "--every"),
        (["--protocol", "no-such-protocol"], "--protocol"),
        (["--protocol", "trial-fixed", "--from", "2025-13-01"], "--from"),
        (["--protocol", "trial-fixed", "--syringe-ml", "0.1"], "--syringe-ml"),
        # Steps so long that the plan would end after the year 9999.
        (["--start", "0.5", "--step", "0.5", "--every", "999999", "--target", "4.5"], "input"),
    ],
)
def test_bad_values_exit_1_naming_the_option(
    lowdose: RunLowdose, args: list[str], option: str
) -> None:
    run = lowdose("plan", *args, "--json")
    assert run.code == 1
    assert run.stderr.startswith(f"error: {option}: ")
    assert run.stdout == ""
    assert "Traceback" not in run.stderr


def test_target_above_the_ceiling_is_allowed_with_a_clinician_override(
    lowdose: RunLowdose,
) -> None:
    # Trials went to 6 mg (bruun-2024); only a clinician may set a target above 4.5 mg.
    run = lowdose("plan", "--start", "4.5", "--step", "1.5", "--every", "7", "--target", "6",
                  "--from", START.isoformat(), "--clinician-override", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["target_mg"] == 6.0


@pytest.mark.parametrize(
    "args",
    [["--every", "weekly"], ["--timing", "noon"], ["--no-such-option"], ["--target"]],
)
def test_malformed_options_are_usage_errors(lowdose: RunLowdose, args: list[str]) -> None:
    run = lowdose("plan", *args)
    assert run.code == 2
    assert "Traceback" not in run.stderr
