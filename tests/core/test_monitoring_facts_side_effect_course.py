"""Side effects against their expected course (clinical-facts §4: start-up effects such as
insomnia and nausea are common at the start and pass, polo-2019, younger-2009; §1c: sleep
changed for more than 5–7 days → ask about morning dosing, ldnrt-morning-dosing): a listed
effect that outlasts its course needs the clinician's attention, whether or not the diary shows
the dose change it followed; before that it is only information."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from lowdose.core.diary import CheckIn, SideEffect
from lowdose.core.monitoring import monitor
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.monitoring import load_monitoring_rules

RULES = load_monitoring_rules()
COURSE = load_side_effects()
TODAY = date(2025, 6, 30)
EXPECTED = RULES.side_effects.expected_days
SLEEP = RULES.sleep.more_than_days


def steady_dose_diary(effect: str, days: int, at: time) -> list[CheckIn]:
    """30 days of the same recorded dose (no plan, no dose change in sight), with `effect` on
    the last `days` of them."""
    return [CheckIn(TODAY - timedelta(days=i), True, 1.5, at,
                    side_effects=(SideEffect(effect, 1),) if i < days else ())
            for i in range(29, -1, -1)]


def levels(checkins: list[CheckIn]) -> dict[str, str]:
    return {f.code: f.level for f in monitor(checkins, today=TODAY, rules=RULES, course=COURSE)}


@pytest.mark.parametrize("effect", ["headache", "nausea", "dizziness", "feeling sick"])
def test_a_listed_effect_outlasting_its_course_needs_attention_without_a_dose_change(effect):
    flags = levels(steady_dose_diary(effect, EXPECTED + 1, time(22, 0)))
    assert flags.get("side-effect-persisting") == "attention", flags


@pytest.mark.parametrize("effect", ["headache", "nausea", "dizziness"])
def test_a_listed_effect_within_its_course_is_information_only(effect):
    flags = levels(steady_dose_diary(effect, EXPECTED, time(22, 0)))
    assert "attention" not in flags.values(), flags


@pytest.mark.parametrize("effect", ["vivid dreams", "insomnia"])
def test_sleep_effects_with_a_morning_dose_need_attention_after_their_course(effect):
    assert levels(steady_dose_diary(effect, SLEEP + 1, time(8, 0))).get(
        "side-effect-persisting") == "attention"
    assert "attention" not in levels(steady_dose_diary(effect, SLEEP, time(8, 0))).values()


@pytest.mark.parametrize("effect", ["vivid dreams", "insomnia", "can't sleep"])
def test_sleep_effects_with_an_evening_dose_suggest_the_morning_after_their_course(effect):
    assert levels(steady_dose_diary(effect, SLEEP + 1, time(22, 0))).get(
        "sleep-suggest-morning") == "attention"
    assert "attention" not in levels(steady_dose_diary(effect, SLEEP, time(22, 0))).values()


@pytest.mark.parametrize(("written", "effect"), [
    ("Vivid dream", "vivid-dreams"), ("nightmare's", "vivid-dreams"),
    ("insomina", "sleep-disturbance"),
    ("Headach", "headache"), ("diarrea", "diarrhoea"), ("dizzyness", "dizziness"),
])
def test_a_listed_effect_is_recognised_in_the_singular_or_misspelt(written, effect):
    # Recognised, it is judged against its course (here: past it, so it needs attention).
    days = (SLEEP if effect in RULES.side_effects.sleep_effects else EXPECTED) + 1
    flags = monitor(steady_dose_diary(written, days, time(8, 0)), today=TODAY, rules=RULES,
                    course=COURSE)
    persisting = [f for f in flags if f.code == "side-effect-persisting"]
    assert persisting and persisting[0].level == "attention", written
    known = next(e for e in COURSE.side_effects if e.id == effect)
    assert persisting[0].sources == known.sources
