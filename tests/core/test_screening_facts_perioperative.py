"""After surgery with opioid pain relief (clinical-facts §3e): when to restart LDN is not
established (Goel 2024); the cautious rule is the one for starting naltrexone, 7–10
opioid-free days first (label), and it is the clinician's decision. A screen in the days
just after such a procedure must not answer ok."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import LdnUse, Procedure, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


def after(at: datetime, *, opioids_expected: bool = True):
    knee = Procedure(at=at, name="knee replacement", opioids_expected=opioids_expected)
    return screen(Profile(as_of=NOW, ldn=LdnUse(dose_mg=4.5), procedures=(knee,)), KNOWLEDGE)


@pytest.mark.parametrize("at", [
    datetime(2025, 6, 1, 8, 0),   # yesterday
    datetime(2025, 6, 2, 8, 0),   # an hour ago
    datetime(2025, 5, 24, 8, 0),  # 9 days ago: within the 10 opioid-free days
])
def test_just_after_surgery_with_opioids_restarting_needs_the_clinician(at: datetime) -> None:
    result = after(at)
    assert result.verdict == "specialist"
    (found,) = result.findings
    assert found.code == "after-surgery-opioids"
    assert "Knee replacement" in found.message and "10 days" in found.message
    assert {"naltrexone-label", "goel-2024"} <= set(found.sources)
    assert result.perioperative is None  # the hold block is for procedures still to come


def test_once_the_interval_has_passed_a_past_surgery_says_nothing() -> None:
    assert after(datetime(2025, 5, 23, 8, 0)).verdict == "ok"  # 10 days ago


def test_a_past_procedure_without_opioids_says_nothing() -> None:
    assert after(datetime(2025, 6, 1, 8, 0), opioids_expected=False).verdict == "ok"
