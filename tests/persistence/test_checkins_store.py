"""Check-ins (design §3.4): one per patient per date, edits kept as versions, retries with an
idempotency key never duplicate, bad input names its field and stores nothing."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lowdose.errors import InputError
from lowdose.services import checkins, patients
from lowdose.services.checkins import CheckinInput, SideEffect
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.store.models import Checkin, CheckinVersion, IdempotencyKey

from .conftest import Cast

DAY = date(2025, 6, 1)
EXAMPLE: dict[str, Any] = {  # the check-in of design §3.4
    "date": "2025-06-02", "dose_taken": True, "dose_mg": 1.5, "dose_time": "22:05",
    "ratings": {"pain": 6, "fatigue": 5, "sleep": 7},
    "side_effects": [{"name": "vivid dreams", "severity": 1}], "note": "slept badly",
}


def _entry(day: date = DAY, pain: int = 5, note: str | None = None) -> CheckinInput:
    return CheckinInput(date=day, dose_taken=True, dose_mg=1.5, dose_time=time(22, 0),
                        ratings={"pain": pain}, note=note)


def _count(cast: Cast, model: type) -> int:
    with cast.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_design_example_round_trips(cast: Cast) -> None:
    entry = CheckinInput.from_dict(EXAMPLE)
    stored = checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, entry)
    body = stored.checkin.to_dict()
    assert {k: body[k] for k in EXAMPLE} == {**EXAMPLE, "ratings": {"fatigue": 5, "pain": 6,
                                                                    "sleep": 7}}
    assert (body["version"], body["patient_id"], stored.created) == (1, cast.ids.alice, True)


def test_a_second_check_in_for_the_same_date_updates_it_and_keeps_the_first(
        cast: Cast) -> None:
    ctx = cast.ctx("patient")
    first = checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=7))
    second = checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=3, note="better"))
    assert (second.created, second.checkin.id, second.checkin.version) == (
        False, first.checkin.id, 2)
    [current] = checkins.list_checkins(cast.db, ctx, cast.ids.alice)
    assert (current.ratings, current.note) == ({"pain": 3}, "better")
    history = checkins.checkin_history(cast.db, ctx, cast.ids.alice, DAY)
    assert [(v.version, v.ratings["pain"], v.note) for v in history] == [
        (1, 7, None), (2, 3, "better")]


def test_sending_the_same_check_in_again_adds_no_version(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry())
    again = checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry())
    assert (again.created, again.checkin.version) == (False, 1)
    assert _count(cast, CheckinVersion) == 1


def test_a_retry_with_the_same_key_returns_the_first_result_and_writes_nothing(
        cast: Cast) -> None:
    ctx = cast.ctx("patient")
    first = checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=7),
                                    idempotency_key="retry-1")
    checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=2))  # a later edit
    retry = checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=7),
                                    idempotency_key="retry-1")
    assert retry.replayed and retry.checkin == first.checkin
    assert (_count(cast, Checkin), _count(cast, CheckinVersion)) == (1, 2)


def test_reusing_a_key_for_another_request_is_a_conflict_and_changes_nothing(
        cast: Cast) -> None:
    ctx = cast.ctx("patient")
    checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=7), idempotency_key="k")
    with pytest.raises(Conflict):
        checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(pain=1),
                                idempotency_key="k")
    [current] = checkins.list_checkins(cast.db, ctx, cast.ids.alice)
    assert (current.ratings, current.version) == ({"pain": 7}, 1)


def test_keys_belong_to_the_user_who_sent_them(cast: Cast) -> None:
    entry = _entry(pain=4)
    checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, entry,
                            idempotency_key="same")
    by_clinician = checkins.record_checkin(cast.db, cast.ctx("clinician"), cast.ids.alice,
                                           _entry(pain=6), idempotency_key="same")
    assert not by_clinician.replayed and by_clinician.checkin.version == 2
    assert _count(cast, IdempotencyKey) == 2


def test_concurrent_retries_with_one_key_store_one_check_in(cast: Cast) -> None:
    results: list[checkins.RecordedCheckin] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice,
                                                   _entry(), idempotency_key="storm"))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.replayed for r in results) == [False] + [True] * 5
    assert (_count(cast, Checkin), _count(cast, CheckinVersion)) == (1, 1)


def test_the_list_is_filtered_by_date_and_sorted(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    for offset in (3, 0, 2, 1):
        checkins.record_checkin(cast.db, ctx, cast.ids.alice, _entry(DAY - timedelta(offset)))
    listed = checkins.list_checkins(cast.db, ctx, cast.ids.alice, date_from=DAY - timedelta(2),
                                    date_to=DAY - timedelta(1))
    assert [c.date for c in listed] == [DAY - timedelta(2), DAY - timedelta(1)]


@pytest.mark.parametrize(("persona", "outcome"), [
    ("patient", None), ("clinician", None), ("second_patient", NotFound),
    ("other_clinician", NotFound), ("outsider", NotFound), ("admin", Forbidden),
    ("team_admin", Forbidden),
])
def test_who_may_record_a_check_in_for_alice(cast: Cast, persona: str,
                                             outcome: type[Exception] | None) -> None:
    def record() -> object:
        return checkins.record_checkin(cast.db, cast.ctx(persona), cast.ids.alice, _entry())

    if outcome is None:
        record()
        assert _count(cast, Checkin) == 1
    else:
        with pytest.raises(outcome):
            record()
        assert _count(cast, Checkin) == 0


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("change", "field"), [
    ({"date": None}, "date"),
    ({"date": "2025-13-01"}, "date"),
    ({"date": 20250602}, "date"),
    ({"mood": "fine"}, "mood"),
    ({"dose_mg": -1}, "dose_mg"),
    ({"dose_mg": "1.5"}, "dose_mg"),
    ({"dose_taken": "yes"}, "dose_taken"),
    ({"dose_taken": False}, "dose_taken"),  # but a dose and a time were given
    ({"dose_time": "25:00"}, "dose_time"),
    ({"ratings": {"pain": 11}}, "ratings.pain"),
    ({"ratings": {"pain": -1}}, "ratings.pain"),
    ({"ratings": {"pain": 5.5}}, "ratings.pain"),
    ({"ratings": {"pain": True}}, "ratings.pain"),
    ({"ratings": {"Pain Level!": 3}}, "ratings.Pain Level!"),
    ({"ratings": [6]}, "ratings"),
    ({"side_effects": [{"name": "nausea", "severity": 4}]}, "side_effects.0.severity"),
    ({"side_effects": [{"name": "", "severity": 1}]}, "side_effects.0.name"),
    ({"side_effects": [{"name": "x", "severity": 1, "when": "now"}]}, "side_effects.0"),
    ({"side_effects": "headache"}, "side_effects"),
    ({"note": "x" * (checkins.MAX_NOTE + 1)}, "note"),
])
def test_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as error:
        CheckinInput.from_dict({**EXAMPLE, **change})
    assert error.value.field == field


@pytest.mark.parametrize(("key", "day", "field"), [
    ("", DAY, "Idempotency-Key"),
    ("with space", DAY, "Idempotency-Key"),
    ("k" * 256, DAY, "Idempotency-Key"),
    ("fine", DAY + timedelta(days=5), "date"),
])
def test_bad_requests_store_nothing(cast: Cast, key: str, day: date, field: str) -> None:
    with pytest.raises(InputError) as error:
        checkins.record_checkin(cast.db, cast.ctx("patient"), cast.ids.alice, _entry(day),
                                idempotency_key=key)
    assert error.value.field == field
    assert (_count(cast, Checkin), _count(cast, IdempotencyKey)) == (0, 0)


# ------------------------------------------------------------------------------ property

days = st.sampled_from([DAY - timedelta(days=n) for n in range(3)])
entries = st.builds(
    CheckinInput, date=days, dose_taken=st.just(True),
    dose_mg=st.sampled_from([0.5, 1.0, 1.5, 4.5]),
    ratings=st.dictionaries(st.sampled_from(["pain", "fatigue", "sleep"]),
                            st.integers(0, 10), max_size=3),
    side_effects=st.lists(st.builds(SideEffect, st.sampled_from(["nausea", "vivid dreams"]),
                                    st.integers(0, 3)), max_size=2).map(tuple),
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(entries, min_size=1, max_size=8))
def test_the_record_is_the_last_check_in_sent_per_date_with_every_change_in_history(
        cast: Cast, sent: list[CheckinInput]) -> None:
    # Each example gets a patient of its own, so examples do not see each other's rows.
    admin = cast.ctx("team_admin")
    patient = patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                                      display_name="Example", synthetic=True)
    from lowdose.services import careteams

    careteams.assign_patient(cast.db, admin, cast.ids.team_a, patient.id)
    ctx = cast.ctx("clinician")
    for entry in sent:
        checkins.record_checkin(cast.db, ctx, patient.id, entry)
    current = {c.date: c for c in checkins.list_checkins(cast.db, ctx, patient.id)}
    for day in {e.date for e in sent}:
        mine = [e for e in sent if e.date == day]
        assert CheckinInput.to_dict(current[day]) == mine[-1].to_dict()
        changes = [e for i, e in enumerate(mine)
                   if i == 0 or e.to_dict() != mine[i - 1].to_dict()]
        history = checkins.checkin_history(cast.db, ctx, patient.id, day)
        assert [CheckinInput.to_dict(v) for v in history] == [e.to_dict() for e in changes]

