"""The medicine list keeps every version of every entry."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from lowdose.errors import InputError
from lowdose.services import medicines
from lowdose.services.errors import Forbidden, NotFound

from .conftest import Cast


def test_edits_stop_and_removal_are_all_in_the_history(cast: Cast) -> None:
    alice, ctx = cast.ids.alice, cast.ctx("patient")
    added = medicines.add_medicine(cast.db, ctx, alice, text="tramadol 50 mg as needed",
                                   started_on=date(2025, 3, 1))
    medicines.update_medicine(cast.db, ctx, alice, added.id,
                              last_taken=datetime(2025, 5, 20, 8, 30))
    medicines.update_medicine(cast.db, cast.ctx("clinician"), alice, added.id,
                              stopped_on=date(2025, 5, 20))
    medicines.remove_medicine(cast.db, ctx, alice, added.id)
    history = medicines.medicine_history(cast.db, cast.ctx("clinician"), alice, added.id)
    assert [(v.version, v.last_taken, v.stopped_on, v.removed) for v in history] == [
        (1, None, None, False),
        (2, datetime(2025, 5, 20, 8, 30), None, False),
        (3, datetime(2025, 5, 20, 8, 30), date(2025, 5, 20), False),
        (4, datetime(2025, 5, 20, 8, 30), date(2025, 5, 20), True),
    ]
    assert {v.text for v in history} == {"tramadol 50 mg as needed"}
    assert medicines.list_medicines(cast.db, ctx, alice) == []


def test_the_list_shows_current_entries_and_can_leave_out_stopped_ones(cast: Cast) -> None:
    alice, ctx = cast.ids.alice, cast.ctx("patient")
    sertraline = medicines.add_medicine(cast.db, ctx, alice, text="sertraline 50 mg")
    codeine = medicines.add_medicine(cast.db, ctx, alice, text="Tylenol #3",
                                     last_taken=date(2025, 5, 1), stopped_on=date(2025, 5, 1))
    everything = medicines.list_medicines(cast.db, ctx, alice)
    assert [m.id for m in everything] == [sertraline.id, codeine.id]
    assert [m.id for m in medicines.list_medicines(cast.db, ctx, alice,
                                                   include_stopped=False)] == [sertraline.id]
    assert [m.active_on(date(2025, 6, 1)) for m in everything] == [True, False]


def test_a_day_without_a_time_stays_a_day(cast: Cast) -> None:
    added = medicines.add_medicine(cast.db, cast.ctx("patient"), cast.ids.alice,
                                   text="Norco 5/325", last_taken=date(2025, 6, 1))
    [listed] = medicines.list_medicines(cast.db, cast.ctx("patient"), cast.ids.alice)
    assert listed.last_taken == date(2025, 6, 1) == added.last_taken
    assert not isinstance(listed.last_taken, datetime)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"text": "  "}, "text"),
    ({"text": "x" * 501}, "text"),
    ({"text": "x", "rxnorm": "RX123"}, "rxnorm"),
    ({"text": "x", "started_on": date(2025, 5, 2), "stopped_on": date(2025, 5, 1)},
     "stopped_on"),
    ({"text": "x", "last_taken": date(2025, 6, 20)}, "last_taken"),
    ({"text": "x", "last_taken": datetime.fromisoformat("2025-06-01T22:00+02:00")},
     "last_taken"),
])
def test_bad_entries_name_the_field_and_store_nothing(cast: Cast, kwargs: dict[str, object],
                                                      field: str) -> None:
    with pytest.raises(InputError) as error:
        medicines.add_medicine(cast.db, cast.ctx("patient"), cast.ids.alice,
                               **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field
    assert medicines.list_medicines(cast.db, cast.ctx("patient"), cast.ids.alice) == []


def test_an_entry_of_another_patient_cannot_be_edited_through_this_one(cast: Cast) -> None:
    bobs = medicines.add_medicine(cast.db, cast.ctx("second_patient"), cast.ids.bob,
                                  text="sertraline")
    with pytest.raises(NotFound):
        medicines.update_medicine(cast.db, cast.ctx("patient"), cast.ids.alice, bobs.id,
                                  text="changed")
    with pytest.raises(NotFound):
        medicines.medicine_history(cast.db, cast.ctx("patient"), cast.ids.alice, bobs.id)


@pytest.mark.parametrize(("persona", "error"), [
    ("team_admin", Forbidden), ("admin", Forbidden), ("outsider", NotFound),
    ("second_patient", NotFound),
])
def test_who_may_not_change_alices_list(cast: Cast, persona: str,
                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        medicines.add_medicine(cast.db, cast.ctx(persona), cast.ids.alice, text="aspirin")
