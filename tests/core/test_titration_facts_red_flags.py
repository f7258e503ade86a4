"""The next-step suggestion reads red flags as the diary's monitoring does (clinical-facts §4:
stop and contact a clinician; naltrexone-label, naumann-2023, jarka-2023): a plural or a typing
slip of a red-flag word must not turn "stop and call" into "hold" or "advance"."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from lowdose.core.diary import CheckIn
from lowdose.core.monitoring import monitor
from lowdose.core.titration import DayRecord, SideEffect, next_step, plan
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.knowledge.regimens import load_titration_facts

FACTS = load_titration_facts()
START = date(2025, 6, 2)
AS_OF = date(2025, 6, 11)
PLAN = plan(from_date=START, facts=FACTS, protocol="ldnrt-cancer")


def _with_last_day(effect: str) -> list[DayRecord]:
    records = [DayRecord(START + timedelta(days=i), 1.5, time(22)) for i in range(9)]
    return [*records, DayRecord(AS_OF, 1.5, time(22), (SideEffect(effect, 1),))]


@pytest.mark.parametrize("effect", ["Rashes", "Jaundise", "withdrawl symptoms", "hive",
                                    "sucidal thoughts", "my urine is dark", "Yellow eye"])
def test_plurals_and_slips_of_red_flag_words_mean_stop_and_call(effect: str) -> None:
    decision = next_step(records=_with_last_day(effect), plan=PLAN, as_of=AS_OF, facts=FACTS)
    assert (decision.action, decision.dose_mg) == ("stop_and_call", 0)
    assert "now" in decision.reason and "today" not in decision.reason


@pytest.mark.parametrize("effect", ["Rashes", "Jaundise", "withdrawl symptoms", "hive",
                                    "vivid dreams", "farming tired", "dry mouth"])
def test_it_agrees_with_the_diary_monitoring(effect: str) -> None:
    # The panel (monitoring) and the patient's next-step suggestion must tell the same story.
    urgent = any(f.level == "urgent" for f in monitor(
        [CheckIn(day=AS_OF, dose_taken=True, dose_mg=1.5, dose_time=time(22),
                 side_effects=(SideEffect(effect, 1),))],
        today=AS_OF, rules=load_monitoring_rules(), course=load_side_effects(), plan=[],
        instruments=load_instruments(), scores=[]))
    decision = next_step(records=_with_last_day(effect), plan=PLAN, as_of=AS_OF, facts=FACTS)
    assert (decision.action == "stop_and_call") == urgent
