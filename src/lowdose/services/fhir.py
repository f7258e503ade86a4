"""FHIR R4 export and import of one patient's record, under the same policy and audit as the
REST API: export reads the record (`READ_RECORD`); import writes medicines
(`EDIT_MEDICINES`) and conditions (`EDIT_PROFILE`) in one transaction, so a Bundle is taken
whole or not at all, and the stored-record screen sees what it brought."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from lowdose.errors import InputError
from lowdose.interop.fhir_export import ConditionEntry, CourseEntry, RecordExport, record_bundle
from lowdose.interop.fhir_import import (
    ConditionItem,
    Item,
    MedicineItem,
    ParsedBundle,
    Skipped,
    parse_bundle,
)
from lowdose.knowledge.evidence import evidence_for, load_evidence
from lowdose.knowledge.instruments import load_instruments
from lowdose.security.policy import PatientAction, authorize
from lowdose.services import checkins as checkin_service
from lowdose.services import medicines as medicine_service
from lowdose.services import patients as patient_service
from lowdose.services._access import Access, load_ref, patient_access
from lowdose.services._checks import text as checked_text
from lowdose.services.context import Context
from lowdose.services.courses import _course_view, _courses, _plan_view
from lowdose.services.errors import Forbidden
from lowdose.services.questionnaires import _view as response_view
from lowdose.store.db import Database
from lowdose.store.models import (
    Checkin,
    Medicine,
    PatientCondition,
    PlanVersion,
    QuestionnaireResponse,
)


def export_patient(db: Database, ctx: Context, patient_id: int, *,
                   kind: str = "searchset") -> dict[str, Any]:
    """The patient's record as a FHIR R4 Bundle (searchset, as `$everything` answers, or a
    collection for a file)."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "fhir.export") as access:
        access.point_at("bundle", kind)
        record = _record(access)
    return record_bundle(record, load_instruments(), at=ctx.at, kind=kind)


def _record(access: Access) -> RecordExport:
    session, pid = access.session, access.patient.id
    conditions = session.scalars(
        select(PatientCondition).where(PatientCondition.patient_id == pid,
                                       PatientCondition.removed_at.is_(None))
        .order_by(PatientCondition.id)).all()
    courses = []
    for course in _courses(access):
        newest = session.scalar(select(PlanVersion).where(PlanVersion.course_id == course.id)
                                .order_by(PlanVersion.version.desc()).limit(1))
        view = _course_view(access, course)
        courses.append(CourseEntry(view, _plan_view(newest) if newest else None,
                                   _condition_codes(view.indication)
                                   if view.indication else ()))
    diary = session.scalars(select(Checkin).where(Checkin.patient_id == pid)
                            .order_by(Checkin.date)).all()
    responses = session.scalars(
        select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == pid)
        .order_by(QuestionnaireResponse.answered_at, QuestionnaireResponse.id)).all()
    return RecordExport(
        patient=patient_service._summary(access.patient),
        profile=patient_service.load_profile(access),
        conditions=tuple(ConditionEntry(c.text, c.added_at, _condition_codes(c.text))
                         for c in conditions),
        medicines=tuple(medicine_service.current_medicines(access)),
        courses=tuple(courses),
        checkins=tuple(checkin_service._view(row) for row in diary),
        responses=tuple(response_view(row) for row in responses))


def _condition_codes(text: str) -> tuple[tuple[str, str], ...]:
    """Verified codes only: an unverified code must not travel to another system."""
    known = evidence_for(text)
    if known is None:
        return ()
    return tuple((c.system, c.code) for c in known.codes if c.verified)


# ---------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ItemReport:
    """What happened to one Bundle entry: `added`, `unchanged` (already on the record) or
    `skipped`, with a message for people."""

    index: int
    resource_type: str
    outcome: str
    message: str
    record: str | None = None  # e.g. "medicine:12"

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "resource_type": self.resource_type,
                "outcome": self.outcome, "message": self.message, "record": self.record}


@dataclass(frozen=True)
class ImportReport:
    patient_id: int
    items: tuple[ItemReport, ...]

    @property
    def added(self) -> int:
        return sum(1 for item in self.items if item.outcome == "added")

    def to_dict(self) -> dict[str, object]:
        return {"patient_id": self.patient_id, "added": self.added,
                "items": [item.to_dict() for item in self.items]}


def import_bundle(db: Database, ctx: Context, bundle: Any,
                  patient_id: int | None = None) -> ImportReport:
    """Add a Bundle's medicines and conditions to a patient's record, all or nothing.

    The patient is `patient_id`, else the one every entry names as `Patient/N` (a Bundle
    posted to this server refers to this server's patients). Entries already on the record are
    left as they are, so importing a Bundle twice adds nothing the second time.
    """
    parsed = parse_bundle(bundle, today=ctx.now.date(), condition_names=_snomed_names())
    target = patient_id if patient_id is not None else parsed.subject_patient
    if target is None:
        raise InputError("patient", "name the patient: ?patient=ID (or `lowdose import-fhir "
                                    "PATIENT`), or give every entry subject Patient/ID")
    needs_profile = any(isinstance(item, ConditionItem) for item in parsed.items)
    with patient_access(db, ctx, target, PatientAction.EDIT_MEDICINES, "fhir.import",
                        write=True) as access:
        if needs_profile:
            _require(access, PatientAction.EDIT_PROFILE)
        reports = _store(access, parsed)
        access.point_at("import", f"{sum(r.outcome == 'added' for r in reports)} added")
        return ImportReport(target, tuple(reports))


def _require(access: Access, action: PatientAction) -> None:
    _, ref = load_ref(access.session, access.patient.id, lock=False)
    if not authorize(access.ctx.actor, action, ref):
        raise Forbidden(f"not allowed: {action}")


def _snomed_names() -> dict[str, str]:
    return {code.code: condition.name for condition in load_evidence().conditions
            for code in condition.codes if code.system == "snomed" and code.verified}


def _store(access: Access, parsed: ParsedBundle) -> list[ItemReport]:
    session, pid = access.session, access.patient.id
    listed = {(m.text.casefold(), m.rxnorm, m.stopped_on)
              for m in medicine_service.current_medicines(access)}
    active = {t.casefold() for t in session.scalars(
        select(PatientCondition.text).where(PatientCondition.patient_id == pid,
                                            PatientCondition.removed_at.is_(None)))}
    reports = []
    for item in parsed.items:
        reports.append(_store_item(access, item, listed, active))
    return reports


Listed = set[tuple[str, str | None, date | None]]


def _store_item(access: Access, item: Item, listed: Listed,
                active: set[str]) -> ItemReport:
    where = f"Bundle.entry[{item.index}].resource"
    if isinstance(item, Skipped):
        return ItemReport(item.index, item.resource_type, "skipped", item.reason)
    if isinstance(item, ConditionItem):
        if item.text.casefold() in active:
            return ItemReport(item.index, "Condition", "unchanged",
                              f"{item.text!r} is already on the problem list")
        if len(active) >= patient_service.MAX_CONDITIONS:
            raise InputError(where, f"at most {patient_service.MAX_CONDITIONS} conditions")
        text = _field(where + ".code.text", lambda: checked_text("text", item.text,
                                                                   max_length=200))
        row = PatientCondition(patient_id=access.patient.id, text=text,
                               added_at=access.ctx.at)
        access.session.add(row)
        access.session.flush()
        active.add(text.casefold())
        return ItemReport(item.index, "Condition", "added",
                          f"{text!r} added to the problem list", f"condition:{row.id}")
    return _store_medicine(access, item, listed, where)


def _store_medicine(access: Access, item: MedicineItem,
                    listed: Listed, where: str) -> ItemReport:
    key = (item.text.casefold(), item.rxnorm, item.stopped_on)
    if key in listed:
        return ItemReport(item.index, item.resource_type, "unchanged",
                          f"{item.text!r} is already on the medicine list")
    fields = _field(where, lambda: medicine_service._checked(
        access.ctx, item.text, item.rxnorm, item.started_on, item.stopped_on,
        item.last_taken))
    medicine = Medicine(patient_id=access.patient.id, version=0, removed=False,
                        updated_at=access.ctx.at, **fields)
    access.session.add(medicine)
    view = medicine_service._new_version(access, medicine)
    listed.add(key)
    said = f"{view.text!r} added to the medicine list"
    if item.note:
        said += f" ({item.note})"
    return ItemReport(item.index, item.resource_type, "added", said, f"medicine:{view.id}")


def _field(where: str, check: Any) -> Any:
    """Run a record check; its error names the Bundle element it came from."""
    try:
        return check()
    except InputError as exc:
        raise InputError(f"{where} ({exc.field})", exc.message) from None
