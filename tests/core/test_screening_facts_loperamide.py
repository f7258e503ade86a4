"""Loperamide in the safety screen (clinical-facts §3c): not a contraindication at labelled
doses (at most 16 mg a day on prescription, loperamide label; Sadeque 2000), but more than
that is the high-dose misuse pattern, which means opioid dependence. A daily amount is
found however the schedule is written."""

from __future__ import annotations

from datetime import datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)


def screened(text: str) -> tuple[str, list[str]]:
    result = screen(Profile(as_of=NOW, medications=(Medication(text=text),)), KNOWLEDGE)
    return result.verdict, [f.code for f in result.findings]


@pytest.mark.parametrize("text", [
    "loperamide 4 mg x 6 a day",     # 24 mg
    "loperamide 4 mg x6 daily",      # 24 mg
    "loperamide 2mg x 10 per day",   # 20 mg
    "Imodium 2 mg x 12/day",         # 24 mg
    "loperamide 4 mg 6 times a day",  # already read: the same dose written the other way
])
def test_loperamide_above_the_label_maximum_is_misuse_however_written(text: str) -> None:
    assert screened(text) == ("contraindicated", ["loperamide-misuse"])


@pytest.mark.parametrize("text", [
    "loperamide 2 mg x 4 a day",     # 8 mg: within the label
    "loperamide 4 mg x 4 daily",     # 16 mg: the label maximum itself
    "loperamide 2 mg x 2 tablets",   # no schedule: no daily amount to judge
])
def test_loperamide_within_the_label_is_a_note_only(text: str) -> None:
    assert screened(text) == ("ok", ["loperamide"])


# Imodium A-D is loperamide 2 mg a caplet (loperamide-label), so a count of caplets or
# tablets a day is a daily amount even when no strength is written.
@pytest.mark.parametrize("text", [
    "Imodium 10 tablets a day",        # 20 mg
    "Imodium A-D 12 caplets daily",    # 24 mg
    "loperamide 2 mg 10 caplets a day",
])
def test_a_count_of_imodium_above_the_label_maximum_is_misuse(text: str) -> None:
    assert screened(text) == ("contraindicated", ["loperamide-misuse"])


def test_imodium_within_the_label_is_a_note_only() -> None:
    assert screened("Imodium 4 caplets a day") == ("ok", ["loperamide"])  # 8 mg
