"""The clinician panel on SQLite and PostgreSQL: who needs attention, most pressing first.

Order (issue 5): red flags, persisting side effects, other attention, steps due, overdue
check-ins, upcoming surgery, everyone else. The panel and the patient's own flags agree, the
date-dependent part moves with the calendar without any write, the policy decides who sees
what, and the panel never reads a diary.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import event, select

from lowdose.core.diary import SideEffect
from lowdose.errors import InputError
from lowdose.services import checkins, courses, outcomes, panel, procedures, questionnaires
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest
from lowdose.services.errors import Forbidden
from lowdose.store.models import AuditEvent

from .conftest import NOW, Cast

TODAY = NOW.date()


def _days(cast: Cast, patient: str, count: int, *, dose_mg: float | None = 1.5,
          effects: tuple[SideEffect, ...] = (), until: date = TODAY) -> None:
    patient_id = cast.ids.alice if patient == "patient" else cast.ids.bob
    for back in range(count - 1, -1, -1):
        checkins.record_checkin(cast.db, cast.ctx(patient), patient_id, CheckinInput(
            date=until - timedelta(days=back), dose_taken=dose_mg is not None,
            dose_mg=dose_mg, dose_time=time(22, 0) if dose_mg else None,
            ratings={"pain": 5}, side_effects=effects))


def _plan(cast: Cast, patient_id: int, started: date, every_days: int = 14) -> None:
    courses.start_course(cast.db, cast.ctx("clinician"), patient_id, started_on=started,
                         first_plan=PlanRequest(from_date=started, start_mg=1.5, step_mg=1.5,
                                                every_days=every_days, target_mg=4.5))


def _page(cast: Cast, persona: str = "clinician", now: datetime = NOW,
          **filters: object) -> panel.PanelPage:
    return panel.clinic_panel(cast.db, cast.ctx(persona, now=now), **filters)  # type: ignore[arg-type]


def _by_id(page: panel.PanelPage) -> dict[int, panel.PanelRow]:
    return {row.patient_id: row for row in page.rows}


def test_a_red_flag_comes_first_with_its_reason(cast: Cast) -> None:
    _days(cast, "patient", 5)
    _days(cast, "second_patient", 3, effects=(SideEffect("jaundice", 2),))
    page = _page(cast)
    assert [r.patient_id for r in page.rows] == [cast.ids.bob, cast.ids.alice]
    bob = page.rows[0]
    assert (bob.group, bob.level) == ("red-flag", "urgent")
    assert bob.flags[0].code.startswith("red-flag-") and "aundice" in bob.flags[0].reason
    assert bob.last_checkin == TODAY and bob.dose_mg == 1.5
    assert page.total == 2


def test_a_red_flag_written_in_the_note_puts_the_patient_first(cast: Cast) -> None:
    _days(cast, "patient", 5)
    checkins.record_checkin(cast.db, cast.ctx("second_patient"), cast.ids.bob, CheckinInput(
        date=TODAY, dose_taken=True, dose_mg=1.5, ratings={"pain": 4},
        note="the whites of my eyes look yellow today"))
    page = _page(cast)
    assert page.rows[0].patient_id == cast.ids.bob
    assert (page.rows[0].group, page.rows[0].level) == ("red-flag", "urgent")


def test_persisting_side_effects_come_before_a_step_due_and_an_overdue_check_in(
        cast: Cast) -> None:
    started = TODAY - timedelta(days=17)
    _plan(cast, cast.ids.alice, started)  # its second step was due 3 days ago
    _days(cast, "patient", 18, effects=(SideEffect("headache", 2),), until=TODAY)
    _days(cast, "second_patient", 3, until=TODAY - timedelta(days=9))  # silent for 9 days
    rows = _page(cast).rows
    assert [(r.patient_id, r.group) for r in rows] == [
        (cast.ids.alice, "side-effects"), (cast.ids.bob, "checkin-overdue")]
    assert "side-effect-persisting" in {f.code for f in rows[0].flags}


def test_a_step_due_is_computed_from_stored_dates_as_the_calendar_moves(cast: Cast) -> None:
    started = TODAY - timedelta(days=10)
    _plan(cast, cast.ids.alice, started, every_days=14)
    _days(cast, "patient", 10)
    _days(cast, "second_patient", 10)
    alice = _by_id(_page(cast))[cast.ids.alice]
    assert alice.group == "none" and alice.next_step_date == started + timedelta(days=14)
    assert alice.next_step_mg == 3.0
    # Five days later, with nothing written since: the step is due, and the check-ins overdue
    # only at the info level (4 days), so the step sorts first.
    later = _by_id(_page(cast, now=NOW + timedelta(days=5)))[cast.ids.alice]
    assert later.group == "step-due"
    assert {f.code for f in later.flags} >= {"titration-step-due", "checkin-overdue"}
    much_later = _page(cast, now=NOW + timedelta(days=12))
    assert {r.group for r in much_later.rows} == {"step-due", "checkin-overdue"}


def test_an_upcoming_procedure_puts_the_patient_on_the_panel(cast: Cast) -> None:
    _days(cast, "patient", 3)
    _days(cast, "second_patient", 3)
    procedures.add_procedure(cast.db, cast.ctx("patient"), cast.ids.alice, name="knee scope",
                             at=datetime.combine(TODAY + timedelta(days=6), time(8)))
    rows = _page(cast).rows
    assert (rows[0].patient_id, rows[0].group) == (cast.ids.alice, "surgery-coming")
    assert rows[0].procedure_date == TODAY + timedelta(days=6)
    assert "72" in next(f.reason for f in rows[0].flags if f.code == "surgery-coming")


def test_a_phq9_item9_answer_is_urgent_on_the_panel_at_once(cast: Cast) -> None:
    _days(cast, "patient", 3)
    questionnaires.record_response(
        cast.db, cast.ctx("second_patient"), cast.ids.bob, instrument="phq9",
        answered_at=datetime.combine(TODAY, time(8)),
        answers={str(i): 0 for i in range(1, 9)} | {"9": 2})
    first = _page(cast, level="urgent").rows
    assert [(r.patient_id, r.flags[0].code) for r in first] == [
        (cast.ids.bob, "phq9-self-harm-thoughts")]


def test_the_panel_shows_the_same_flags_as_the_patients_own_page(cast: Cast) -> None:
    started = TODAY - timedelta(days=25)
    _plan(cast, cast.ids.alice, started, every_days=7)
    _days(cast, "patient", 12, effects=(SideEffect("vivid dreams", 1),),
          until=TODAY - timedelta(days=4))
    later = NOW + timedelta(days=1)
    row = _by_id(_page(cast, now=later))[cast.ids.alice]
    own = outcomes.patient_flags(cast.db, cast.ctx("patient", now=later), cast.ids.alice)
    assert sorted(f.code for f in row.flags) == sorted(f.code for f in own)
    assert {f.code for f in own} >= {"checkin-overdue", "titration-step-due"}


@pytest.mark.parametrize(("filters", "expected"), [
    ({"level": "urgent"}, ["bob"]),
    ({"level": "attention"}, ["bob", "alice"]),
    ({"search": "ALI"}, ["alice"]),
    ({"search": "%"}, []),
    ({"limit": 1}, ["bob"]),
    ({"limit": 1, "offset": 1}, ["alice"]),
])
def test_filters_and_pages(cast: Cast, filters: dict[str, object], expected: list[str]) -> None:
    _days(cast, "second_patient", 2, effects=(SideEffect("hives", 3),))
    _days(cast, "patient", 2, until=TODAY - timedelta(days=8))
    page = _page(cast, **filters)
    names = {cast.ids.alice: "alice", cast.ids.bob: "bob"}
    assert [names[r.patient_id] for r in page.rows] == expected
    if "limit" in filters:
        assert page.total == 2


@pytest.mark.parametrize(("persona", "sees", "detail"), [
    ("clinician", {"alice", "bob"}, True),
    ("team_admin", {"alice", "bob"}, True),
    ("admin", {"alice", "bob"}, False),  # the clinic's patients, by name only
    ("outsider", set(), True),
    ("other_clinician", {"erin"}, True),
])
def test_who_sees_whom_follows_the_policy(cast: Cast, persona: str, sees: set[str],
                                          detail: bool) -> None:
    _days(cast, "second_patient", 2, effects=(SideEffect("jaundice", 2),))
    page = _page(cast, persona)
    names = {cast.ids.alice: "alice", cast.ids.bob: "bob", cast.ids.erin: "erin"}
    assert {names[r.patient_id] for r in page.rows} == sees
    assert all(r.detail is detail for r in page.rows)
    if not detail:
        assert all(r.flags == () and r.level is None and r.dose_mg is None for r in page.rows)
        assert _page(cast, persona, level="urgent").rows == ()


@pytest.mark.parametrize("persona", ["patient", "operator"])
def test_patients_and_the_operator_have_no_panel(cast: Cast, persona: str) -> None:
    with pytest.raises(Forbidden):
        _page(cast, persona)


def test_each_patient_shown_is_audited(cast: Cast) -> None:
    _days(cast, "patient", 2)
    _page(cast)
    with cast.db.transaction() as session:
        seen = session.execute(select(AuditEvent.patient_id, AuditEvent.actor_user_id)
                               .where(AuditEvent.action == "panel.read")).all()
    carol = cast.user("clinician").id
    assert sorted(seen) == sorted([(cast.ids.alice, carol), (cast.ids.bob, carol)])


@pytest.mark.parametrize(("filters", "field"), [
    ({"level": "severe"}, "level"), ({"limit": 0}, "limit"), ({"limit": 201}, "limit"),
    ({"offset": -1}, "offset"), ({"search": "x" * 101}, "q"),
])
def test_bad_filters_name_their_field(cast: Cast, filters: dict[str, object],
                                      field: str) -> None:
    with pytest.raises(InputError) as refused:
        _page(cast, **filters)
    assert refused.value.field == field


def test_reading_the_panel_never_reads_a_diary(cast: Cast) -> None:
    _days(cast, "patient", 30, effects=(SideEffect("headache", 1),))
    statements: list[str] = []

    def remember(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.lower())

    event.listen(cast.db.engine, "before_cursor_execute", remember)
    try:
        _page(cast)
    finally:
        event.remove(cast.db.engine, "before_cursor_execute", remember)
    assert statements and not [s for s in statements if "checkins" in s]
