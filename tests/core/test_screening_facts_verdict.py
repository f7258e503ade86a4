"""The verdict and its earliest start (design §3.2): `defer` means "not now", with the first
day LDN may start; a more severe verdict has no start date to offer, because a finding other
than the opioid-free interval stands in the way (the label's contraindications, §3a)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lowdose.core.screening import Medication, Profile, screen
from lowdose.knowledge.screening import load_screening_knowledge

KNOWLEDGE = load_screening_knowledge()
NOW = datetime(2025, 6, 2, 9, 0)
TRAMADOL_LAST_WEEK = Medication(text="tramadol 50 mg", last_taken=date(2025, 5, 29))


@pytest.mark.parametrize(("profile", "verdict"), [
    (Profile(as_of=NOW, medications=(TRAMADOL_LAST_WEEK, Medication(text="oxycodone 5 mg"))),
     "contraindicated"),  # oxycodone taken now: 8 June is no start date
    (Profile(as_of=NOW, conditions=("acute hepatitis",), medications=(TRAMADOL_LAST_WEEK,)),
     "contraindicated"),
])
def test_a_contraindication_gives_no_earliest_start(profile: Profile, verdict: str) -> None:
    result = screen(profile, KNOWLEDGE)
    assert result.verdict == verdict
    assert result.earliest_start is None
    assert result.to_dict()["earliest_start"] is None
    # The interval itself is still told, with its own date, in its finding.
    (recent,) = [f for f in result.findings if f.code == "recent-opioid"]
    assert recent.earliest_start == date(2025, 6, 8)


def test_a_defer_gives_the_earliest_start() -> None:
    result = screen(Profile(as_of=NOW, conditions=("pregnant",),
                            medications=(TRAMADOL_LAST_WEEK,)), KNOWLEDGE)
    assert (result.verdict, result.earliest_start) == ("defer", date(2025, 6, 8))
