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


def screened(text: str) -> tuple[str, list[str]]:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    return result.verdict, [f.code for f in result.findings]


# Label (clinical-facts §3a): contraindicated while receiving opioids; kratom counts as an
# opioid (Jarka 2023, §3c). "Opiate" and "narcotic" are everyday words for opioids.
@pytest.mark.parametrize("text", [
    "on opiates", "opiate use", "takes opiates", "long-term opiate therapy", "on narcotics",
    "chronic narcotic use", "heroin use", "fentanyl use", "kratom use", "daily kratom use",
])
def test_a_condition_saying_opioids_are_taken_is_contraindicated(text: str) -> None:
    assert screened(text) == ("contraindicated", ["active-opioid"])


# Label: contraindicated in current opioid dependence. "Opioid abuse" is the ICD-10 term (F11.1).
@pytest.mark.parametrize("text", [
    "opioid abuse", "opioid misuse", "prescription opioid misuse", "opiate abuse",
    "narcotic addiction",
])
def test_opioid_misuse_is_read_as_opioid_dependence(text: str) -> None:
    assert screened(text) == ("contraindicated", ["opioid-dependence-treatment"])


# Past opioid use is not current use: a false contraindication is a failure too (design
# §3.2). The label asks for an opioid-free interval, so a prescriber confirms it.
@pytest.mark.parametrize("text", [
    "past opioid use", "history of chronic opioid therapy", "previous long-term opioid therapy",
    "history of heroin use",
])
def test_past_opioid_use_needs_a_prescriber_not_a_contraindication(text: str) -> None:
    assert screened(text) == ("specialist", ["opioid-use-history"])


def test_past_opioid_misuse_is_a_history_of_dependence() -> None:
    assert screened("history of opioid abuse") == ("specialist", ["opioid-dependence-history"])


@pytest.mark.parametrize("text", ["IV drug use", "injection drug use"])
def test_injecting_drugs_is_substance_misuse(text: str) -> None:
    assert screened(text) == ("specialist", ["substance-misuse"])


# Label (clinical-facts §3a): contraindicated in acute opioid withdrawal, after a failed
# naloxone challenge, and with a positive urine opioid screen.
@pytest.mark.parametrize(("text", "code"), [
    ("positive urine opioid screen", "opioid-test-positive"),
    ("urine drug screen positive for opiates", "opioid-test-positive"),
    ("UDS positive for fentanyl", "opioid-test-positive"),
    ("failed naloxone challenge", "opioid-test-positive"),
    ("opiate withdrawal", "opioid-dependence-treatment"),
])
def test_the_labels_other_opioid_contraindications(text: str, code: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert result.verdict == "contraindicated"
    assert [f.code for f in result.findings] == [code]
    assert "naltrexone-label" in result.findings[0].sources


@pytest.mark.parametrize("text", ["urine drug screen negative for opiates",
                                  "no positive opioid screen"])
def test_a_negative_opioid_screen_is_not_a_finding(text: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert (result.verdict, result.findings) == ("ok", ())


# A condition written with the opioid's own name: if it is taken now the label rules
# naltrexone out, if it was stopped the opioid-free interval applies (§3a). The screen cannot
# tell which from a condition, so a prescriber checks; it is never ok.
@pytest.mark.parametrize(("text", "matched"), [
    ("back pain treated with oxycodone", "oxycodone"),
    ("chronic pain on tramadol", "tramadol"),
    ("tramadol-induced seizure", "tramadol"),
    ("sciatica - Norco as needed", "hydrocodone"),
])
def test_a_condition_naming_an_opioid_needs_a_prescriber(text: str, matched: str) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert result.verdict == "specialist"
    (found,) = result.findings
    assert found.code == "opioid-in-conditions"
    assert found.matched is not None and found.matched.startswith(matched)
    assert "naltrexone-label" in found.sources


@pytest.mark.parametrize(("text", "codes"), [
    ("codeine allergy", []),                          # an allergy, not a medicine taken
    ("methadone maintenance", ["opioid-dependence-treatment"]),  # said once, not twice
    ("kratom use", ["active-opioid"]),
    ("morphea", []),                                  # a skin disease, not morphine
    ("fibromyalgia", []),
])
def test_conditions_already_read_or_not_opioids_add_nothing(text: str, codes: list[str]) -> None:
    result = screen(Profile(as_of=NOW, conditions=(text,)), KNOWLEDGE)
    assert [f.code for f in result.findings] == codes
