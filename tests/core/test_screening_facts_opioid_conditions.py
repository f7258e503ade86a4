"""Conditions that say opioids are (or were lately) taken, from clinical-facts §3a: the label
rules naltrexone out while opioids are received, and LDN 1 mg has brought on severe
withdrawal in a patient on long-term opioids (Naumann 2023, §3b). A condition caused by
opioids must not pass as ok: a prescriber checks for opioid use first."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


@pytest.mark.parametrize("text", [
    "opioid-induced constipation", "OIC", "opioid induced hyperalgesia", "opioid tolerant",
    "opioid-induced bowel dysfunction",
])
def test_a_condition_caused_by_opioids_needs_a_check_for_opioid_use(text: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert result.verdict == "specialist"
    (found,) = result.findings
    assert found.code == "opioid-use-suspected"
    assert "naltrexone-label" in found.sources


@pytest.mark.parametrize("text", ["opioid naive", "no opioid-induced constipation"])
def test_no_opioid_effect_is_not_a_finding(text: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert (result.verdict, result.findings) == ("ok", ())
