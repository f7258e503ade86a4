"""Questionnaires on the record: a stored response comes back scored with its instrument's
definition (total and band from the cited rules), an incomplete one is never stored, and a PHQ-9
item 9 above 0 reaches the monitoring flags as an urgent flag with crisis guidance.

The scoring rules themselves are tested in tests/core/test_instruments.py; these tables check
that the stored path gives the same totals and bands on both databases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lowdose.errors import InputError
from lowdose.services import outcomes, questionnaires

from .conftest import NOW, Cast

ANSWERED = datetime(2025, 6, 1, 20, 0)  # the day before the cast's NOW
HBI_ITEMS = ("arthralgia", "uveitis", "erythema_nodosum", "aphthous_ulcers",
             "pyoderma_gangrenosum", "anal_fissure", "new_fistula", "abscess")


def phq9(*values: int) -> dict[str, int]:
    return {str(i): v for i, v in enumerate(values, start=1)}


def gad7(*values: int) -> dict[str, int]:
    return {str(i): v for i, v in enumerate(values, start=1)}


def hbi(well_being: int, pain: int, stools: int, mass: int, complications: int = 0
        ) -> dict[str, int]:
    return {"well_being": well_being, "abdominal_pain": pain, "liquid_stools": stools,
            "abdominal_mass": mass,
            **{name: int(i < complications) for i, name in enumerate(HBI_ITEMS)}}


# (instrument, answers, total, band): bands of Kroenke 2001 (PHQ-9), Spitzer 2006 (GAD-7),
# Harvey & Bradshaw 1980 as banded by Best 2006 (HBI), IMMPACT (PGIC).
TABLE: list[tuple[str, dict[str, Any], int, str]] = [
    ("phq9", phq9(0, 0, 0, 0, 0, 0, 0, 0, 0), 0, "minimal"),
    ("phq9", phq9(1, 1, 1, 1, 1, 0, 0, 0, 0), 5, "mild"),
    ("phq9", phq9(2, 2, 2, 2, 2, 0, 0, 0, 0), 10, "moderate"),
    ("phq9", phq9(3, 3, 3, 3, 3, 0, 0, 0, 0), 15, "moderately severe"),
    ("phq9", phq9(3, 3, 3, 3, 3, 3, 2, 0, 0), 20, "severe"),
    ("gad7", gad7(0, 0, 0, 0, 0, 0, 0), 0, "minimal"),
    ("gad7", gad7(1, 1, 1, 1, 1, 0, 0), 5, "mild"),
    ("gad7", gad7(2, 2, 2, 2, 2, 0, 0), 10, "moderate"),
    ("gad7", gad7(3, 3, 3, 3, 3, 0, 0), 15, "severe"),
    ("hbi", hbi(1, 1, 2, 0), 4, "remission"),
    ("hbi", hbi(2, 1, 4, 0), 7, "mild"),
    ("hbi", hbi(2, 1, 3, 0, complications=2), 8, "moderate"),
    ("hbi", hbi(4, 3, 6, 3, complications=1), 17, "severe"),
    ("pgic", {"change": 2}, 2, "much or very much improved"),
    ("pgic", {"change": 4}, 4, "no change"),
    ("pgic", {"change": 6}, 6, "worse"),
    ("pain", {"pain": 7}, 7, None),  # type: ignore[list-item]  # a rating has no bands
]


@pytest.mark.parametrize(("instrument", "answers", "total", "band"), TABLE)
def test_a_stored_response_comes_back_with_its_score_and_band(
        cast: Cast, instrument: str, answers: dict[str, Any], total: int,
        band: str | None) -> None:
    stored = questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                            instrument=instrument, answered_at=ANSWERED,
                                            answers=answers)
    assert stored.score is not None and (stored.score.total, stored.score.band) == (total, band)
    [listed] = questionnaires.list_responses(cast.db, cast.ctx("clinician"), cast.ids.alice)
    shown = listed.to_dict()
    assert (shown["scored"], shown["score"], shown["band"]) == (True, total, band)


@pytest.mark.parametrize(("answers", "field"), [
    (phq9(1, 1, 1, 1, 1, 1, 1, 1), "answers.9"),  # item 9 missing: never read as "not at all"
    ({**phq9(1, 1, 1, 1, 1, 1, 1, 1, 1), "9": 4}, "answers.9"),
    ({**phq9(1, 1, 1, 1, 1, 1, 1, 1, 1), "3": True}, "answers.3"),
    ({**phq9(1, 1, 1, 1, 1, 1, 1, 1, 1), "9": "1"}, "answers.9"),
])
def test_an_incomplete_or_invalid_response_is_refused_and_nothing_stored(
        cast: Cast, answers: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as refused:
        questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                       instrument="phq9", answered_at=ANSWERED, answers=answers)
    assert refused.value.field == field
    assert questionnaires.list_responses(cast.db, cast.ctx("patient"), cast.ids.alice) == []


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_above_zero_is_an_urgent_flag_with_crisis_guidance(cast: Cast,
                                                                      item9: int) -> None:
    questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                   instrument="phq9", answered_at=ANSWERED,
                                   answers=phq9(0, 0, 0, 0, 0, 0, 0, 0, item9))
    flags = outcomes.patient_flags(cast.db, cast.ctx("clinician"), cast.ids.alice)
    first = flags[0]
    assert (first.code, first.level) == ("phq9-self-harm-thoughts", "urgent")
    assert "emergency number" in first.reason and "crisis line" in first.reason
    [listed] = questionnaires.list_responses(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert [f["code"] for f in listed.to_dict()["flags"]] == ["phq9-self-harm-thoughts"]


def test_phq9_item9_zero_raises_no_questionnaire_flag(cast: Cast) -> None:
    questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                   instrument="phq9", answered_at=ANSWERED,
                                   answers=phq9(1, 1, 1, 1, 1, 1, 1, 1, 0))
    flags = outcomes.patient_flags(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert not [f for f in flags if f.code.startswith("phq9")]


def test_an_old_alert_leaves_the_flags_after_the_recent_window(cast: Cast) -> None:
    questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                   instrument="phq9", answered_at=datetime(2025, 5, 1, 20, 0),
                                   answers=phq9(0, 0, 0, 0, 0, 0, 0, 0, 1))
    assert NOW.date().isoformat() == "2025-06-02"
    flags = outcomes.patient_flags(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert not [f for f in flags if f.code.startswith("phq9")]


def test_an_instrument_lowdose_does_not_ship_is_stored_unscored(cast: Cast) -> None:
    stored = questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                            instrument="clinic-form", answered_at=ANSWERED,
                                            answers={"q1": 3})
    shown = stored.to_dict()
    assert (shown["scored"], shown["score"], shown["band"], shown["flags"]) == (
        False, None, None, [])


def test_a_comment_beside_the_items_is_kept_and_not_scored(cast: Cast) -> None:
    stored = questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice,
                                            instrument="pgic", answered_at=ANSWERED,
                                            answers={"change": 3, "comment": "a bit better"})
    assert stored.answers["comment"] == "a bit better"
    assert stored.score is not None and stored.score.total == 3
