"""Severe kidney impairment (clinical-facts §3a: the label advises caution in severe renal
dysfunction; naltrexone leaves mainly through the kidneys, §1d). The screen reads it from an
eGFR below 30; a creatinine clearance below 30 mL/min is the same measure of kidney function
as clinicians write it."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


def codes(text: str) -> list[str]:
    return [f.code for f in screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE).findings]


@pytest.mark.parametrize("text", ["CrCl 20", "creatinine clearance 25 mL/min", "CrCl <30",
                                  "eGFR 25"])
def test_a_clearance_below_30_is_severe_kidney_impairment(text: str) -> None:
    assert codes(text) == ["severe-renal-impairment"]


@pytest.mark.parametrize("text", ["CrCl 45", "creatinine clearance 30 mL/min", "eGFR 60"])
def test_a_clearance_of_30_or_more_is_not(text: str) -> None:
    assert codes(text) == []
