"""Every use case that touches a patient's data leaves an audit event naming that patient.

The table must list every public service function that takes a `patient_id`, so a new use
case without an entry here fails `test_the_table_lists_every_patient_use_case`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import date, datetime, time

import pytest
from sqlalchemy import select

import lowdose.services
from lowdose.core.nof1 import Arm
from lowdose.security import audit
from lowdose.services import (
    calendar,
    careteams,
    checkins,
    courses,
    diary_csv,
    fhir,
    medicines,
    nof1,
    notes,
    outcomes,
    panel,
    patients,
    procedures,
    questionnaires,
    reports,
    screening,
    supplies,
)
from lowdose.services.auditlog import verify_audit_log
from lowdose.services.checkins import CheckinInput
from lowdose.services.courses import PlanRequest
from lowdose.services.errors import Forbidden
from lowdose.store.models import AuditEvent, AuditHead

from .conftest import Cast

# Every public service module, found rather than listed, so a new one cannot slip past.
MODULES = tuple(importlib.import_module(f"lowdose.services.{m.name}")
                for m in pkgutil.iter_modules(lowdose.services.__path__)
                if not m.name.startswith("_"))
DAY = date(2025, 6, 1)
PLAN = PlanRequest(from_date=DAY, start_mg=1.5, target_mg=1.5)
Call = Callable[[], object]


def _medicine(c: Cast) -> int:
    return medicines.add_medicine(c.db, c.ctx("patient"), c.ids.alice, text="sertraline").id


def _course(c: Cast) -> int:
    return courses.start_course(c.db, c.ctx("clinician"), c.ids.alice, started_on=DAY).id


def _checkin(c: Cast) -> int:
    return checkins.record_checkin(c.db, c.ctx("patient"), c.ids.alice,
                                   CheckinInput(date=DAY)).checkin.id


def _procedure(c: Cast) -> int:
    return procedures.add_procedure(c.db, c.ctx("patient"), c.ids.alice, name="scan",
                                    at=datetime(2025, 7, 1)).id


def _planned(c: Cast) -> int:
    """A running course with a plan, so the diary has a proposal to approve."""
    return courses.start_course(c.db, c.ctx("clinician"), c.ids.alice, started_on=DAY,
                                first_plan=PLAN).id


COMPARISON = nof1.ComparisonRequest(a=Arm(3.0, time(22)), b=Arm(4.5, time(22)),
                                    starts_on=date(2025, 6, 3))


def _comparison(c: Cast) -> int:
    return nof1.create_comparison(c.db, c.ctx("clinician"), c.ids.alice, COMPARISON).id


def _feed(c: Cast) -> int:
    return calendar.create_feed(c.db, c.ctx("clinician"), c.ids.alice).feed.id


def _feed_read(c: Cast) -> Call:
    token = calendar.create_feed(c.db, c.ctx("patient"), c.ids.alice).token
    return lambda: calendar.read_feed(c.db, token, now=datetime(2025, 6, 2, 9))


Prepare = Callable[[Cast], Call]


def _plain(call: Callable[[Cast], object]) -> Prepare:
    return lambda c: lambda: call(c)


def _after(setup: Callable[[Cast], int], call: Callable[[Cast, int], object]) -> Prepare:
    """Run `setup` first (its events do not count), then audit `call` on what it made."""
    def prepare(c: Cast) -> Call:
        ident = setup(c)
        return lambda: call(c, ident)
    return prepare


# Each call acts as Clinician Carol (on Alice's care team) or, where only an admin may,
# as Admin Ada.
CASES: dict[str, Prepare] = {
    "calendar.get_preferences": _plain(lambda c: calendar.get_preferences(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "calendar.set_preferences": _plain(lambda c: calendar.set_preferences(
        c.db, c.ctx("clinician"), c.ids.alice, timezone="Europe/Berlin")),
    "calendar.export_calendar": _plain(lambda c: calendar.export_calendar(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "calendar.create_feed": _plain(lambda c: calendar.create_feed(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "calendar.list_feeds": _plain(lambda c: calendar.list_feeds(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "calendar.revoke_feed": _after(_feed, lambda c, feed: calendar.revoke_feed(
        c.db, c.ctx("clinician"), c.ids.alice, feed)),
    "careteams.assign_patient": _plain(lambda c: careteams.assign_patient(
        c.db, c.ctx("admin"), c.ids.team_a, c.ids.alice)),
    "careteams.unassign_patient": _plain(lambda c: careteams.unassign_patient(
        c.db, c.ctx("admin"), c.ids.team_a, c.ids.alice)),
    "checkins.record_checkin": _plain(lambda c: checkins.record_checkin(
        c.db, c.ctx("clinician"), c.ids.alice, CheckinInput(date=DAY))),
    "checkins.list_checkins": _plain(lambda c: checkins.list_checkins(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "checkins.checkin_history": _after(_checkin, lambda c, _: checkins.checkin_history(
        c.db, c.ctx("clinician"), c.ids.alice, DAY)),
    "courses.start_course": _plain(lambda c: courses.start_course(
        c.db, c.ctx("clinician"), c.ids.alice, started_on=DAY)),
    "courses.end_course": _after(_course, lambda c, course: courses.end_course(
        c.db, c.ctx("clinician"), c.ids.alice, course, ended_on=DAY)),
    "courses.revise_plan": _after(_course, lambda c, course: courses.revise_plan(
        c.db, c.ctx("clinician"), c.ids.alice, course, PLAN)),
    "courses.list_courses": _plain(lambda c: courses.list_courses(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "courses.propose_next_step": _after(_course, lambda c, _: courses.propose_next_step(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "courses.next_step_proposal": _after(_planned, lambda c, _: courses.next_step_proposal(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "courses.approve_next_step": _after(_planned, lambda c, _: courses.approve_next_step(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "courses.plan_versions": _after(_course, lambda c, course: courses.plan_versions(
        c.db, c.ctx("clinician"), c.ids.alice, course)),
    "medicines.add_medicine": _plain(lambda c: medicines.add_medicine(
        c.db, c.ctx("clinician"), c.ids.alice, text="aspirin")),
    "medicines.update_medicine": _after(_medicine, lambda c, med: medicines.update_medicine(
        c.db, c.ctx("clinician"), c.ids.alice, med, stopped_on=DAY)),
    "medicines.remove_medicine": _after(_medicine, lambda c, med: medicines.remove_medicine(
        c.db, c.ctx("clinician"), c.ids.alice, med)),
    "medicines.list_medicines": _plain(lambda c: medicines.list_medicines(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "medicines.medicine_history": _after(_medicine, lambda c, med: medicines.medicine_history(
        c.db, c.ctx("clinician"), c.ids.alice, med)),
    "patients.get_patient": _plain(lambda c: patients.get_patient(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "patients.get_profile": _plain(lambda c: patients.get_profile(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "patients.update_profile": _plain(lambda c: patients.update_profile(
        c.db, c.ctx("clinician"), c.ids.alice, weight_kg=70)),
    "patients.link_login": _plain(lambda c: patients.link_login(
        c.db, c.ctx("admin"), c.ids.alice, None)),
    "procedures.add_procedure": _plain(lambda c: procedures.add_procedure(
        c.db, c.ctx("clinician"), c.ids.alice, name="scan", at=datetime(2025, 7, 1))),
    "procedures.cancel_procedure": _after(_procedure, lambda c, proc: (
        procedures.cancel_procedure(c.db, c.ctx("clinician"), c.ids.alice, proc))),
    "procedures.list_procedures": _plain(lambda c: procedures.list_procedures(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "questionnaires.record_response": _plain(lambda c: questionnaires.record_response(
        c.db, c.ctx("clinician"), c.ids.alice, instrument="pgic",
        answered_at=datetime(2025, 6, 1), answers={"change": 5})),
    "questionnaires.list_responses": _plain(lambda c: questionnaires.list_responses(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "notes.add_note": _plain(lambda c: notes.add_note(
        c.db, c.ctx("clinician"), c.ids.alice, "called; dreams settling")),
    "notes.list_notes": _plain(lambda c: notes.list_notes(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "nof1.create_comparison": _plain(lambda c: nof1.create_comparison(
        c.db, c.ctx("clinician"), c.ids.alice, COMPARISON)),
    "nof1.list_comparisons": _plain(lambda c: nof1.list_comparisons(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "nof1.get_comparison": _after(_comparison, lambda c, comparison: nof1.get_comparison(
        c.db, c.ctx("clinician"), c.ids.alice, comparison)),
    "nof1.cancel_comparison": _after(_comparison, lambda c, comparison: (
        nof1.cancel_comparison(c.db, c.ctx("clinician"), c.ids.alice, comparison))),
    "nof1.analyze": _after(_comparison, lambda c, comparison: nof1.analyze(
        c.db, c.ctx("clinician"), c.ids.alice, comparison)),
    "nof1.schedule": _after(_comparison, lambda c, _: nof1.schedule(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "outcomes.analyze_patient": _plain(lambda c: outcomes.analyze_patient(
        c.db, c.ctx("clinician"), c.ids.alice, start=DAY)),
    "outcomes.patient_flags": _plain(lambda c: outcomes.patient_flags(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "screening.screen_patient": _plain(lambda c: screening.screen_patient(
        c.db, c.ctx("clinician"), c.ids.alice, as_of=datetime(2025, 6, 2, 9))),
    "reports.visit_report_model": _plain(lambda c: reports.visit_report_model(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "reports.visit_report": _plain(lambda c: reports.visit_report(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "diary_csv.export_diary": _plain(lambda c: diary_csv.export_diary(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "diary_csv.import_diary": _plain(lambda c: diary_csv.import_diary(
        c.db, c.ctx("clinician"), c.ids.alice, b"date,ratings.pain\n2025-06-01,4\n")),
    "fhir.export_patient": _plain(lambda c: fhir.export_patient(
        c.db, c.ctx("clinician"), c.ids.alice)),
    "fhir.import_bundle": _plain(lambda c: fhir.import_bundle(
        c.db, c.ctx("clinician"), {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Condition", "code": {"text": "migraine"}}}]},
        c.ids.alice)),
    "supplies.add_supply": _plain(lambda c: supplies.add_supply(
        c.db, c.ctx("clinician"), c.ids.alice, dispensed_on=DAY, form="capsule",
        quantity=30, strength=1.5)),
    "supplies.list_supplies": _plain(lambda c: supplies.list_supplies(
        c.db, c.ctx("clinician"), c.ids.alice)),
}
# Use cases that reach patients without a patient_id argument.
EXTRA: dict[str, Prepare] = {
    "calendar.read_feed": _feed_read,
    "patients.list_patients": _plain(lambda c: patients.list_patients(c.db, c.ctx("clinician"))),
    "panel.clinic_panel": _plain(lambda c: panel.clinic_panel(c.db, c.ctx("clinician"))),
}


def _public_patient_functions() -> set[str]:
    found = set()
    for module in MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if (function.__module__ == module.__name__ and not name.startswith("_")
                    and "patient_id" in inspect.signature(function).parameters):
                found.add(f"{short}.{name}")
    return found


def test_the_table_lists_every_patient_use_case() -> None:
    assert _public_patient_functions() == set(CASES)


def _last_id(cast: Cast) -> int:
    with cast.db.transaction(write=False) as session:
        head = session.get(AuditHead, audit.HEAD_ID)
        assert head is not None
        return head.last_id


@pytest.mark.parametrize("name", sorted(CASES | EXTRA))
def test_each_use_case_leaves_an_audit_event_naming_the_patient(cast: Cast, name: str) -> None:
    call = (CASES | EXTRA)[name](cast)
    start = _last_id(cast)
    call()
    with cast.db.transaction(write=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.id > start)).all()
    assert [(e.patient_id, e.outcome) for e in events if e.patient_id == cast.ids.alice] != []
    assert all(e.outcome == "allowed" for e in events)


@pytest.mark.parametrize(("persona", "allowed"), [
    ("operator", True), ("admin", True), ("clinician", False), ("patient", False),
])
def test_checking_the_audit_log(cast: Cast, persona: str, allowed: bool) -> None:
    if not allowed:
        with pytest.raises(Forbidden):
            verify_audit_log(cast.db, cast.ctx(persona))
        return
    report = verify_audit_log(cast.db, cast.ctx(persona))
    assert report.ok and report.events == _last_id(cast) - 1  # the check is audited after it
