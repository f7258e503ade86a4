"""Opioid patches (clinical-facts §3c: fentanyl (Duragesic) and buprenorphine (Butrans)
patches rule naltrexone out; the opioid-free interval is 7–10 days, about 2 weeks after
buprenorphine). A patch keeps delivering the opioid while it is worn: the CDC value sets
list every fentanyl transdermal system as 72 HR and every buprenorphine one as 168 HR. So a
patch put on recently is still current use, and the interval counts from when it comes off."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 20, 9, 0)


def screened(text: str, put_on: date):
    return screen(Profile(as_of=NOW, medications=(Medication(text=text, last_taken=put_on),)),
                  KNOWLEDGE)


@pytest.mark.parametrize(("text", "put_on"), [
    ("Butrans 10 mcg/h patch", date(2025, 6, 15)),     # 7-day patch: still on
    ("fentanyl patch 25 mcg/h", date(2025, 6, 17)),    # 72 h patch, off 6/20 + 48 h
])
def test_a_patch_still_worn_is_current_use(text: str, put_on: date) -> None:
    result = screened(text, put_on)
    assert result.verdict == "contraindicated"
    assert [f.code for f in result.findings] == ["active-opioid"]


@pytest.mark.parametrize(("text", "put_on", "earliest"), [
    # Put on 6/10, off 6/17, 14 days for buprenorphine → 7/1 (not 6/24 from the day put on).
    ("Butrans 10 mcg/h patch", date(2025, 6, 10), date(2025, 7, 1)),
    # Put on 6/14, off 6/17, 10 days for a full agonist → 6/27.
    ("Duragesic 25", date(2025, 6, 14), date(2025, 6, 27)),
])
def test_the_interval_counts_from_when_the_patch_comes_off(text: str, put_on: date,
                                                           earliest: date) -> None:
    result = screened(text, put_on)
    assert (result.verdict, result.earliest_start) == ("defer", earliest)
    (found,) = result.findings
    assert "cdc-opioid-valuesets" in found.sources and "comes off" in found.message


def test_a_buprenorphine_film_keeps_the_interval_from_the_dose() -> None:
    result = screened("Belbuca 150 mcg film", date(2025, 6, 10))
    assert (result.verdict, result.earliest_start) == ("defer", date(2025, 6, 24))
