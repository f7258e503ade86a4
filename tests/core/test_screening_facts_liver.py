"""Liver disease in the safety screen, from clinical-facts §3a: the naltrexone label rules
naltrexone out in acute hepatitis or liver failure; cirrhosis raises naltrexone levels 5–10×
(Swiss Fachinfo) and needs a prescriber; the label's red flags for acute hepatitis include
jaundice (clinical-facts §4). Free text as people write it (design §3.1)."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


def verdict_and_codes(condition: str) -> tuple[str, list[str]]:
    result = screen(Profile(as_of=NOW, conditions=(condition,)), KNOWLEDGE)
    return result.verdict, [f.code for f in result.findings]


# clinical-facts §3a: "Contraindicated: acute hepatitis or liver failure" (label). Acute
# hepatitis is acute whatever its cause; a word between "acute" and "hepatitis" must not turn
# the contraindication into a mere review.
@pytest.mark.parametrize("text", [
    "acute viral hepatitis",
    "acute drug-induced hepatitis",
    "drug-induced hepatitis",
    "acute autoimmune hepatitis",
    "acute alcoholic hepatitis",
    "Child-Pugh C cirrhosis",  # Child-Pugh class C is decompensated cirrhosis
    "Child-Pugh class C",
])
def test_acute_hepatitis_and_liver_failure_are_contraindicated(text: str) -> None:
    verdict, codes = verdict_and_codes(text)
    assert verdict == "contraindicated"
    assert codes == ["acute-liver-disease"]


# Problem lists write the qualifier after the name: "acute" in brackets, after a comma or a
# dash still means acute hepatitis.
@pytest.mark.parametrize("text", [
    "hepatitis (acute)", "hepatitis, acute", "Hepatitis - acute", "hepatitis B, acute",
    "liver failure (acute)",
])
def test_acute_written_after_the_hepatitis_is_still_contraindicated(text: str) -> None:
    verdict, codes = verdict_and_codes(text)
    assert verdict == "contraindicated"
    assert "acute-liver-disease" in codes


@pytest.mark.parametrize("text", [
    "history of hepatitis (acute)",  # past, however the qualifier is written
    "hepatitis (chronic)",
    "history of drug-induced hepatitis",  # past: liver disease to review, not acute
    "Child-Pugh B",
    "Child-Pugh A cirrhosis",
])
def test_past_or_compensated_liver_disease_needs_a_prescriber(text: str) -> None:
    verdict, codes = verdict_and_codes(text)
    assert verdict == "specialist"
    assert codes == ["hepatic-impairment"]


# clinical-facts §4 red flags: jaundice is a symptom of acute hepatitis, for which the label
# says stop and seek care; ascites and varices are signs of advanced liver disease. None of
# them may pass as ok: a prescriber checks the liver first.
@pytest.mark.parametrize("text", [
    "jaundice", "jaundiced", "yellow skin", "yellowing of the eyes", "ascites",
    "oesophageal varices",
])
def test_signs_of_liver_disease_need_a_prescriber(text: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert result.verdict == "specialist"
    (found,) = result.findings
    assert found.code == "hepatic-impairment"
    assert "acute hepatitis" in found.message and "naltrexone-label" in found.sources


def test_no_jaundice_is_not_a_finding() -> None:
    assert verdict_and_codes("no jaundice") == ("ok", [])
