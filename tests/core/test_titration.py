"""Titration plans from presets and custom numbers, and the next-step suggestion."""

from __future__ import annotations

import math
from datetime import date, time, timedelta
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from lowdose.core.titration import DayRecord, Decision, Plan, SideEffect, next_step, plan
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_titration_facts
from lowdose.schemas.regimens import PlanRequest, PlanResponse

FACTS = load_titration_facts()
MONDAY = date(2025, 6, 2)


def make(**kwargs: object) -> Plan:
    return plan(from_date=MONDAY, facts=FACTS, **kwargs)  # type: ignore[arg-type]


def d(text: str) -> date:
    return date.fromisoformat(text)


def schedule(p: Plan) -> list[tuple[str, str | None, float]]:
    return [(s["from"], s["to"], s["dose_mg"]) for s in p.to_dict()["steps"]]  # type: ignore[index,union-attr]


def test_every_preset_has_a_stable_kebab_case_name_and_sources() -> None:
    names = [p.name for p in FACTS.protocols]
    assert len(names) == len(set(names))
    for preset in FACTS.protocols:
        assert preset.name == preset.name.lower() and " " not in preset.name
        assert preset.sources


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("ldnrt-cancer", [("2025-06-02", "2025-06-08", 1.5), ("2025-06-09", "2025-06-15", 3.0),
                          ("2025-06-16", None, 4.5)]),
        ("dartmouth-weekly", [("2025-06-02", "2025-06-08", 1.5),
                              ("2025-06-09", "2025-06-15", 3.0), ("2025-06-16", None, 4.5)]),
        ("okelly-long-covid", [("2025-06-02", "2025-07-01", 1.0), ("2025-07-02", None, 2.0)]),
        ("trial-fixed", [("2025-06-02", None, 4.5)]),
    ],
)
def test_preset_gives_the_published_dated_steps(
    protocol: str, expected: list[tuple[str, str | None, float]]
) -> None:
    assert schedule(make(protocol=protocol)) == expected


@pytest.mark.parametrize(
    ("protocol", "every", "steps"),
    [
        ("ldnrt-autoimmune", 14, 9),  # 0.5 → 4.5 in 0.5 mg steps every 2 weeks
        ("ldnrt-liquid", 7, 9),  # 0.1 mL steps of 5 mg/mL every week
        ("long-covid-slow", 7, 9),
    ],
)
def test_half_mg_presets_climb_from_half_a_mg_to_four_and_a_half(
    protocol: str, every: int, steps: int
) -> None:
    p = make(protocol=protocol)
    assert p.doses == tuple(0.5 * n for n in range(1, steps + 1))
    assert p.steps[1].start == MONDAY + timedelta(days=every)
    assert p.steps[-1].start == MONDAY + timedelta(days=every * (steps - 1))


def test_liquid_preset_states_each_dose_in_ml_of_5_mg_per_ml() -> None:
    p = make(protocol="ldnrt-liquid")
    assert p.form == "liquid" and p.mg_per_ml == 5.0
    assert [s.dose_ml for s in p.steps[:3]] == [0.1, 0.2, 0.3]
    assert "ldnrt-pharmacist-titration" in p.sources


@pytest.mark.parametrize(("weight", "dose"), [(23, 2.3), (45, 4.5), (80, 4.5), (12.5, 1.2)])
def test_paediatric_dose_is_a_tenth_mg_per_kg_at_most_four_and_a_half(
    weight: float, dose: float
) -> None:
    # 12.5 kg gives 1.25 mg: capsules are made in 0.1 mg steps, rounded down so never above.
    p = make(protocol="paediatric-weight", weight_kg=weight)
    assert p.doses == (dose,)
    assert "parker-2018-cochrane" in p.sources


def test_paediatric_dose_rounds_down_to_what_a_liquid_measures() -> None:
    assert make(protocol="paediatric-weight", weight_kg=23, liquid_mg_per_ml=5).doses == (2.0,)


def test_paediatric_target_above_the_weight_dose_needs_a_clinician() -> None:
    with pytest.raises(InputError) as caught:
        make(protocol="paediatric-weight", weight_kg=20, target_mg=3)
    assert caught.value.field == "target_mg"


def test_paediatric_plan_needs_the_weight() -> None:
    with pytest.raises(InputError) as caught:
        make(protocol="paediatric-weight")
    assert caught.value.field == "weight_kg"


def test_cli_example_gives_weekly_half_mg_steps_to_the_target() -> None:
    p = make(start_mg=1.5, step_mg=0.5, every_days=7, target_mg=4.5)
    assert p.protocol == "custom"
    assert p.doses == (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5)
    assert p.steps[-1].end is None and p.steps[-1].start == d("2025-07-14")
    assert p.capsule_strengths() == p.doses
    assert p.to_dict()["capsule_strengths_mg"] == list(p.doses)


def test_preset_numbers_can_be_changed() -> None:
    p = make(protocol="ldnrt-cancer", every_days=14)
    assert p.protocol == "ldnrt-cancer"
    assert schedule(p)[1] == ("2025-06-16", "2025-06-29", 3.0)


def test_last_step_may_be_smaller_so_the_target_is_not_passed() -> None:
    assert make(start_mg=1, step_mg=1.5, every_days=7, target_mg=4.5).doses == (1, 2.5, 4, 4.5)


@pytest.mark.parametrize(
    ("mg_per_ml", "doses", "volumes"),
    [
        (1, (1.5, 2.0, 2.5), (1.5, 2.0, 2.5)),  # 1 mg/mL: 0.1 mL is 0.1 mg
        (5, (1.5, 2.0, 2.5), (0.3, 0.4, 0.5)),  # 5 mg/mL: 0.1 mL is 0.5 mg
    ],
)
def test_liquid_plan_states_mg_and_ml(
    mg_per_ml: float, doses: tuple[float, ...], volumes: tuple[float, ...]
) -> None:
    p = make(start_mg=1.5, step_mg=0.5, every_days=7, target_mg=2.5, liquid_mg_per_ml=mg_per_ml)
    assert p.doses == doses
    assert tuple(s.dose_ml for s in p.steps) == volumes
    assert all("dose_ml" in s for s in p.to_dict()["steps"])  # type: ignore[attr-defined]


def test_step_smaller_than_the_liquid_measures_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        make(start_mg=0.5, step_mg=0.25, every_days=7, target_mg=4.5, liquid_mg_per_ml=5)
    assert caught.value.field == "step_mg"


def test_unmeasurable_doses_are_rounded_to_a_mark_and_never_past_the_start_or_target() -> None:
    # 2 mg/mL in 0.1 mL marks measures 0.2 mg: neither 0.5 mg nor 4.5 mg can be measured, so
    # the plan starts at 0.4 mg (start low, clinical-facts §1b) and stops at 4.4 mg.
    p = make(start_mg=0.5, step_mg=1, every_days=7, target_mg=4.5, liquid_mg_per_ml=2)
    assert p.doses == (0.4, 1.4, 2.4, 3.4, 4.4)
    assert p.target_mg == 4.4
    assert any("4.5 mg cannot be measured" in note for note in p.notes)
    assert any("0.5 mg cannot be measured" in note and "0.4 mg" in note for note in p.notes)


@pytest.mark.parametrize(("start", "first"), [(0.3, None), (0.7, 0.5), (1.2, 1.0)])
def test_the_first_dose_is_never_more_than_the_start_asked_for(
    start: float, first: float | None
) -> None:
    # Titration starts low (clinical-facts §1b: start 0.5–1.5 mg, LDNRT 0.1 mL of 5 mg/mL):
    # a start the syringe cannot measure is rounded down, never up (0.3 mg is not 0.5 mg).
    kwargs = {"start_mg": start, "step_mg": 0.5, "every_days": 7, "target_mg": 4.5,
              "liquid_mg_per_ml": 5}
    if first is None:
        with pytest.raises(InputError) as caught:
            make(**kwargs)
        assert caught.value.field == "start_mg"
        return
    p = make(**kwargs)
    assert p.doses[0] == first
    assert any(f"{start:g} mg cannot be measured" in note for note in p.notes)


def test_target_above_the_usual_ceiling_is_refused_without_a_clinician() -> None:
    with pytest.raises(InputError) as caught:
        make(start_mg=1.5, step_mg=1.5, every_days=7, target_mg=6)
    assert caught.value.field == "target_mg"
    assert "4.5 mg" in caught.value.message and "6 mg" in caught.value.message


def test_a_start_above_the_usual_ceiling_is_refused_without_a_clinician() -> None:
    # A step-down plan from 6 mg would otherwise schedule a week above 4.5 mg unreviewed.
    with pytest.raises(InputError) as caught:
        make(start_mg=6, step_mg=0.5, every_days=7, target_mg=4.5)
    assert caught.value.field == "start_mg"
    assert "4.5 mg" in caught.value.message and "6 mg" in caught.value.message
    tapered = make(start_mg=6, step_mg=0.5, every_days=7, target_mg=4.5,
                   clinician_override=True)
    assert tapered.doses == (6, 5.5, 5, 4.5)


def test_clinician_can_set_a_target_above_the_ceiling_with_a_note() -> None:
    p = make(start_mg=1.5, step_mg=1.5, every_days=7, target_mg=6, clinician_override=True)
    assert p.doses[-1] == 6
    assert any("6 mg" in note for note in p.notes)
    assert "bruun-2024" in p.sources


def test_even_a_clinician_cannot_go_past_the_highest_dose_in_the_sources() -> None:
    with pytest.raises(InputError) as caught:
        make(start_mg=1.5, step_mg=1.5, every_days=7, target_mg=15, clinician_override=True)
    assert caught.value.field == "target_mg"


def test_step_down_plan_tapers_to_the_lower_target() -> None:
    p = make(start_mg=4.5, step_mg=1, every_days=7, target_mg=2)
    assert p.doses == (4.5, 3.5, 2.5, 2)
    assert p.steps[-1].note == FACTS.step_notes.last_down


@pytest.mark.parametrize(
    ("start", "target", "doses"),
    [
        (3.7, 3.6, (3.5,)),  # 4.0 would be the target rounded up, but it is above the start
        (4.2, 2.2, (4.0, 3.0, 2.5)),
        (2.3, 2.4, (2.0,)),  # climbing: never above the target either
    ],
)
def test_rounding_never_gives_more_than_the_highest_dose_asked_for(
    start: float, target: float, doses: tuple[float, ...]
) -> None:
    p = make(start_mg=start, step_mg=1, every_days=7, target_mg=target, liquid_mg_per_ml=5)
    assert p.doses == doses


def test_discontinuation_ends_with_a_stop_step() -> None:
    p = make(start_mg=4.5, step_mg=1.5, every_days=7, target_mg=0)
    assert p.doses == (4.5, 3.0, 1.5, 0)
    assert p.steps[-1].note == FACTS.step_notes.stop
    assert p.steps[-1].end is None
    assert p.capsule_strengths() == (1.5, 3.0, 4.5)


@pytest.mark.parametrize(("timing", "clock"), [("bedtime", "22:00"), ("morning", "08:00")])
def test_doses_are_at_bedtime_unless_morning_is_asked_for(timing: str, clock: str) -> None:
    p = make(protocol="ldnrt-cancer", timing=timing)
    assert {s["time"] for s in p.to_dict()["steps"]} == {clock}  # type: ignore[index,union-attr]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("protocol", {"protocol": "fast-track"}),
        ("start_mg", {"target_mg": 4.5}),
        ("target_mg", {"start_mg": 1.5}),
        ("start_mg", {"start_mg": 0, "target_mg": 4.5, "step_mg": 1, "every_days": 7}),
        ("start_mg", {"start_mg": math.nan, "target_mg": 4.5, "step_mg": 1, "every_days": 7}),
        ("target_mg", {"start_mg": 1, "target_mg": -1, "step_mg": 1, "every_days": 7}),
        ("step_mg", {"start_mg": 1.5, "target_mg": 4.5, "every_days": 7}),
        ("step_mg", {"start_mg": 1.5, "target_mg": 4.5, "step_mg": 0, "every_days": 7}),
        ("every_days", {"start_mg": 1.5, "target_mg": 4.5, "step_mg": 1.5}),
        ("every_days", {"start_mg": 1.5, "target_mg": 4.5, "step_mg": 1.5, "every_days": 0}),
        ("start_mg", {"start_mg": 20, "target_mg": 4.5, "step_mg": 1.5, "every_days": 7}),
        ("start_mg", {"start_mg": 0.01, "target_mg": 4.5, "step_mg": 0.5, "every_days": 7}),
        ("timing", {"protocol": "trial-fixed", "timing": "noon"}),
        ("syringe_resolution_ml", {"protocol": "trial-fixed", "syringe_resolution_ml": 0.1}),
        ("liquid_mg_per_ml", {"protocol": "trial-fixed", "liquid_mg_per_ml": 0}),
        ("weight_kg", {"protocol": "paediatric-weight", "weight_kg": -3}),
    ],
)
def test_bad_plan_input_names_the_field(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError) as caught:
        make(**kwargs)
    assert caught.value.field == field


amounts = st.decimals(min_value="0", max_value="6", places=1).map(float)
liquids = st.sampled_from([None, 1.0, 2.0, 5.0])


@given(start=amounts, step=st.decimals(min_value="0.1", max_value="3", places=2).map(float),
       every=st.integers(min_value=1, max_value=30), target=amounts, conc=liquids)
def test_plans_are_contiguous_monotone_measurable_and_never_pass_the_target(
    start: float, step: float, every: int, target: float, conc: float | None
) -> None:
    assume(start > 0)
    try:
        p = make(start_mg=start, step_mg=step, every_days=every, target_mg=target,
                 liquid_mg_per_ml=conc, clinician_override=True)
    except InputError as error:  # only what the formulation cannot measure is refused
        assert error.field in ("start_mg", "step_mg", "target_mg")
        return
    unit = Fraction(str(conc or 1)) * Fraction(1, 10) if conc else Fraction(1, 10)
    doses = [Fraction(str(x)) for x in p.doses]
    assert all((x / unit).denominator == 1 for x in doses)
    low, high = sorted((Fraction(str(start)), Fraction(str(target))))
    assert all(low - unit < x <= high for x in doses)  # never above the highest dose asked
    up = target >= start
    assert all((b > a) if up else (b < a) for a, b in pairwise(doses))
    assert abs(doses[-1] - Fraction(str(target))) < unit
    if up:
        assert doses[-1] <= Fraction(str(target))
    assert p.steps[0].start == MONDAY and p.steps[-1].end is None
    for before, after in pairwise(p.steps):
        assert before.end is not None and after.start == before.end + timedelta(days=1)
        assert (before.end - before.start).days + 1 == every


# ---- next step ---------------------------------------------------------------------------

CANCER = make(protocol="ldnrt-cancer")  # 1.5 → 3 → 4.5 mg, weekly
TAPER = make(start_mg=3, step_mg=1.5, every_days=7, target_mg=0)
AS_OF = d("2025-06-20")
NAUSEA = (SideEffect("nausea", 1),)


def diary(first: str, days: int, dose: float, *, clock: time = time(22), effects: tuple[
        SideEffect, ...] = (), sleep: bool = False) -> list[DayRecord]:
    return [DayRecord(d(first) + timedelta(days=i), dose, clock, effects, sleep)
            for i in range(days)]


def decide(records: list[DayRecord], p: Plan = CANCER, as_of: date = AS_OF) -> Decision:
    return next_step(records=records, plan=p, as_of=as_of, facts=FACTS)


def test_red_flag_symptom_means_stop_and_call() -> None:
    records = diary("2025-06-10", 10, 3.0)
    records[-1] = DayRecord(AS_OF, 3.0, time(22), (SideEffect("Dark urine", 1),))
    decision = decide(records)
    assert (decision.action, decision.dose_mg) == ("stop_and_call", 0)
    assert "Dark urine" in decision.reason and "naltrexone-label" in decision.sources


@pytest.mark.parametrize("symptom", [
    "pain in the upper right part of the belly",  # hepatitis sign (label, clinical-facts 4)
    "swollen lips",  # allergic reaction
    "severe pain",  # severe uncontrolled pain that may need opioids
    "goosebumps",  # opioid withdrawal (piloerection)
])
def test_every_red_flag_of_the_facts_means_stop_and_call(symptom: str) -> None:
    # clinical-facts §4 red flags, as listed for patients in side_effects.toml: the next-step
    # suggestion must not say "hold" or "advance" when one of them is reported.
    records = diary("2025-06-10", 10, 3.0)
    records[-1] = DayRecord(AS_OF, 3.0, time(22), (SideEffect(symptom, 2),))
    assert decide(records).action == "stop_and_call"


@pytest.mark.parametrize("effect", ["crashed in the afternoon", "dry mouth", "nausea"])
def test_ordinary_side_effects_are_not_red_flags(effect: str) -> None:
    records = diary("2025-06-10", 10, 3.0)
    records[-1] = DayRecord(AS_OF, 3.0, time(22), (SideEffect(effect, 1),))
    assert decide(records).action != "stop_and_call"


def test_too_few_recorded_days_holds_and_says_so() -> None:
    decision = decide(diary("2025-06-01", 10, 1.5) + diary("2025-06-18", 3, 3.0))
    assert (decision.action, decision.dose_mg) == ("hold", 3.0)
    assert "Only 3 of the last 7 days" in decision.reason


def test_sleep_disturbed_over_a_week_on_bedtime_dosing_moves_the_dose_to_morning() -> None:
    decision = decide(diary("2025-06-12", 9, 3.0, sleep=True))
    assert (decision.action, decision.dose_mg, decision.dose_time) == (
        "move_to_morning", 3.0, FACTS.times.morning)
    assert "ldnrt-morning-dosing" in decision.sources


def test_vivid_dreams_count_as_sleep_disturbance() -> None:
    decision = decide(diary("2025-06-12", 9, 4.5, effects=(SideEffect("vivid dreams", 1),)))
    assert decision.action == "move_to_morning"


@pytest.mark.parametrize(
    "records",
    [
        diary("2025-06-14", 7, 4.5, sleep=True),  # exactly 7 days: not yet "more than 7"
        diary("2025-06-10", 11, 4.5, clock=time(8), sleep=True),  # already morning dosing
    ],
)
def test_sleep_rule_needs_more_than_a_week_of_evening_doses(records: list[DayRecord]) -> None:
    assert decide(records).action != "move_to_morning"


def test_side_effects_worse_after_a_step_up_step_back_to_the_tolerated_dose() -> None:
    decision = decide(diary("2025-06-09", 7, 1.5) + diary("2025-06-16", 5, 3.0, effects=NAUSEA))
    assert (decision.action, decision.dose_mg) == ("step_back", 1.5)
    assert "mild nausea" in decision.reason
    assert "ldnrt-pharmacist-titration" in decision.sources


def test_side_effects_already_there_before_the_step_up_do_not_step_back() -> None:
    records = diary("2025-06-09", 7, 1.5, effects=NAUSEA) + diary("2025-06-16", 5, 3.0,
                                                                 effects=NAUSEA)
    assert decide(records).action == "hold"


@pytest.mark.parametrize("effects, sleep", [((), True), ((SideEffect("insomnia", 1),), False)])
def test_no_step_up_while_sleep_is_disturbed(
    effects: tuple[SideEffect, ...], sleep: bool
) -> None:
    # 7 nights of disturbed sleep on 3 mg, the step's 7 days done: not yet "more than 5-7
    # days" for the morning switch, but going up now would not be "without troublesome side
    # effects". Stay, and say the morning option (LDNRT, clinical-facts 1c).
    decision = decide(diary("2025-06-14", 7, 3.0, effects=effects, sleep=sleep))
    assert (decision.action, decision.dose_mg) == ("hold", 3.0)
    assert "morning" in decision.reason
    assert "ldnrt-morning-dosing" in decision.sources


def test_disturbed_sleep_does_not_hold_up_a_taper() -> None:
    # Going down is not "going up while sleep is disturbed": the taper's next step stands.
    decision = decide(diary("2025-06-10", 11, 1.5, sleep=True)[-7:], TAPER)
    assert (decision.action, decision.dose_mg) == ("advance", 0)


def test_sleep_effects_after_a_step_up_do_not_step_back() -> None:
    dreams = (SideEffect("vivid dreams", 1),)
    decision = decide(diary("2025-06-09", 7, 1.5) + diary("2025-06-16", 5, 3.0, effects=dreams))
    assert decision.action == "hold"


def test_moderate_side_effects_hold_the_dose() -> None:
    records = diary("2025-06-06", 15, 3.0)
    records[-3] = DayRecord(records[-3].day, 3.0, time(22), (SideEffect("headache", 2),))
    decision = decide(records)
    assert (decision.action, decision.dose_mg) == ("hold", 3.0)
    assert "moderate headache" in decision.reason


def test_at_the_target_the_suggestion_is_to_stay() -> None:
    decision = decide(diary("2025-06-06", 15, 4.5))
    assert (decision.action, decision.dose_mg) == ("hold", 4.5)
    assert "target" in decision.reason


def test_a_dose_above_the_plans_target_is_not_called_the_target() -> None:
    # The plan ends at 4.5 mg, the usual ceiling (clinical-facts 1b); 6 mg needs a clinician.
    # Staying on 6 mg as "the plan's target dose" would be wrong: go back and ask.
    decision = decide(diary("2025-06-06", 15, 6.0))
    assert (decision.action, decision.dose_mg) == ("step_back", 4.5)
    assert "6 mg" in decision.reason and "4.5 mg" in decision.reason
    assert "clinician" in decision.reason
    assert "target dose of 6 mg" not in decision.reason


def test_before_the_interval_ends_the_suggestion_is_to_wait() -> None:
    decision = decide(diary("2025-06-10", 7, 1.5) + diary("2025-06-17", 4, 3.0))
    assert (decision.action, decision.dose_mg) == ("hold", 3.0)
    assert "3 more day(s)" in decision.reason


def test_interval_elapsed_and_tolerated_advances_one_step() -> None:
    decision = decide(diary("2025-06-14", 7, 1.5))
    assert (decision.action, decision.dose_mg) == ("advance", 3.0)
    assert decision.to_dict()["action"] == "advance"


def test_advance_never_passes_the_target() -> None:
    p = make(start_mg=1.5, step_mg=2, every_days=7, target_mg=4.5)  # 1.5, 3.5, 4.5
    assert decide(diary("2025-06-10", 11, 3.5), p).dose_mg == 4.5


def test_last_step_of_a_taper_is_to_stop() -> None:
    decision = decide(diary("2025-06-10", 11, 1.5), TAPER)
    assert (decision.action, decision.dose_mg) == ("advance", 0)
    assert "stop taking LDN" in decision.reason


@pytest.mark.parametrize(
    ("field", "record"),
    [
        ("records.1.day", DayRecord(d("2025-06-21"), 1.5)),
        ("records.1.day", DayRecord(d("2025-06-14"), 1.5)),
        ("records.1.dose_mg", DayRecord(d("2025-06-15"), -1.0)),
        ("records.1.side_effects.0.severity", DayRecord(d("2025-06-15"), 1.5, None,
                                                         (SideEffect("nausea", 4),))),
    ],
)
def test_bad_diary_input_names_the_record(field: str, record: DayRecord) -> None:
    with pytest.raises(InputError) as caught:
        decide([DayRecord(d("2025-06-14"), 1.5), record])
    assert caught.value.field == field


def test_plan_request_json_gives_the_cli_plan_and_the_response_model_accepts_it() -> None:
    request = PlanRequest.model_validate({"from": "2025-06-02", "start_mg": 1.5, "step_mg": 0.5,
                                          "every_days": 7, "target_mg": 4.5})
    p = plan(**request.to_core(), facts=FACTS)
    assert p == make(start_mg=1.5, step_mg=0.5, every_days=7, target_mg=4.5)
    response = PlanResponse.model_validate(p.to_dict())
    assert response.steps[-1].to_date is None
    liquid = make(protocol="ldnrt-liquid")
    assert PlanResponse.model_validate(liquid.to_dict()).steps[0].dose_ml == 0.1


def test_plan_request_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="start"):
        PlanRequest.model_validate({"from": "2025-06-02", "start": 1.5})
