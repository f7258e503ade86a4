"""Questionnaire responses (stored as answered) and planned procedures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lowdose.errors import InputError
from lowdose.services import procedures, questionnaires
from lowdose.services.errors import Forbidden, NotFound

from .conftest import Cast

PHQ9 = {f"item{i}": i % 4 for i in range(1, 10)}


def test_responses_come_back_as_answered_and_by_instrument(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    questionnaires.record_response(cast.db, ctx, cast.ids.alice, instrument="phq-9",
                                   answered_at=datetime(2025, 6, 1, 20, 0), answers=PHQ9)
    questionnaires.record_response(cast.db, ctx, cast.ids.alice, instrument="pgic",
                                   answered_at=datetime(2025, 5, 1, 20, 0),
                                   answers={"change": 5, "comment": "less pain ✓"})
    everything = questionnaires.list_responses(cast.db, cast.ctx("clinician"), cast.ids.alice)
    assert [r.instrument for r in everything] == ["pgic", "phq-9"]
    [phq] = questionnaires.list_responses(cast.db, ctx, cast.ids.alice, instrument="phq-9")
    assert dict(phq.answers) == PHQ9


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"instrument": "PHQ 9"}, "instrument"),
    ({"answers": {}}, "answers"),
    ({"answers": {"item1": float("nan")}}, "answers"),
    ({"answers": {"Item One": 1}}, "answers.Item One"),
    ({"answers": {"item1": "x" * 30_000}}, "answers"),
    ({"answered_at": datetime(2026, 1, 1)}, "answered_at"),
])
def test_bad_responses_name_the_field(cast: Cast, kwargs: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"instrument": "phq-9", "answered_at": datetime(2025, 6, 1),
                              "answers": PHQ9, **kwargs}
    with pytest.raises(InputError) as error:
        questionnaires.record_response(cast.db, cast.ctx("patient"), cast.ids.alice, **values)
    assert error.value.field == field
    assert questionnaires.list_responses(cast.db, cast.ctx("patient"), cast.ids.alice) == []


def test_procedures_are_listed_by_date_and_cancelled_ones_kept(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    knee = procedures.add_procedure(cast.db, ctx, cast.ids.alice, name="knee replacement",
                                    at=datetime(2025, 7, 4, 8, 0), opioids_expected=True)
    dental = procedures.add_procedure(cast.db, ctx, cast.ids.alice, name="dental filling",
                                      at=datetime(2025, 6, 10, 14, 0))
    procedures.cancel_procedure(cast.db, cast.ctx("clinician"), cast.ids.alice, knee.id)
    assert [p.id for p in procedures.list_procedures(cast.db, ctx, cast.ids.alice)] == [dental.id]
    every = procedures.list_procedures(cast.db, ctx, cast.ids.alice, include_cancelled=True)
    assert [(p.id, p.cancelled) for p in every] == [(dental.id, False), (knee.id, True)]
    assert every[1].to_dict()["at"] == "2025-07-04T08:00"


@pytest.mark.parametrize(("persona", "error"), [
    ("admin", Forbidden), ("second_patient", NotFound), ("other_clinician", NotFound),
])
def test_who_may_not_add_procedures_or_responses(cast: Cast, persona: str,
                                                 error: type[Exception]) -> None:
    with pytest.raises(error):
        procedures.add_procedure(cast.db, cast.ctx(persona), cast.ids.alice, name="x",
                                 at=datetime(2025, 7, 1))
    with pytest.raises(error):
        questionnaires.record_response(cast.db, cast.ctx(persona), cast.ids.alice,
                                       instrument="phq-9", answered_at=datetime(2025, 6, 1),
                                       answers=PHQ9)


def test_another_patients_procedure_is_not_found_through_this_one(cast: Cast) -> None:
    bobs = procedures.add_procedure(cast.db, cast.ctx("second_patient"), cast.ids.bob,
                                    name="colonoscopy", at=datetime(2025, 7, 1))
    with pytest.raises(NotFound):
        procedures.cancel_procedure(cast.db, cast.ctx("patient"), cast.ids.alice, bobs.id)
