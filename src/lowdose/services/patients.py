"""Patients: who they are (visible to their clinic's admins) and their profile (clinical: the
fields of the screening profile, design §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lowdose.errors import InputError
from lowdose.security import audit
from lowdose.security.policy import PatientAction, PatientRef, Role, authorize
from lowdose.services._access import Access, care_teams_of, patient_access, patient_ref, refuse
from lowdose.services._checks import UNSET, Unset, not_after, positive, text
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, NotFound
from lowdose.store.db import Database
from lowdose.store.models import (
    CareTeamMember,
    CareTeamPatient,
    Clinic,
    Patient,
    PatientCondition,
    User,
)

# FHIR administrative gender (R4), the vocabulary EHRs exchange.
SEXES = ("female", "male", "other", "unknown")
# Plausibility bounds that catch typing slips (grams for kilograms), not clinical limits.
MAX_WEIGHT_KG = 700.0
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_CONDITIONS = 100


@dataclass(frozen=True)
class PatientSummary:
    """Who the patient is: what a clinic admin may see."""

    id: int
    clinic_id: int
    display_name: str
    user_id: int | None
    synthetic: bool

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "clinic_id": self.clinic_id, "display_name": self.display_name,
                "user_id": self.user_id, "synthetic": self.synthetic}


@dataclass(frozen=True)
class Profile:
    """The clinical profile fields of design §3.1 kept on the record."""

    patient_id: int
    birth_date: date | None
    sex: str | None
    weight_kg: float | None
    pregnant: bool | None
    breastfeeding: bool | None
    conditions: tuple[str, ...]

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday

    def to_dict(self) -> dict[str, object]:
        return {"patient_id": self.patient_id,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "sex": self.sex, "weight_kg": self.weight_kg, "pregnant": self.pregnant,
                "breastfeeding": self.breastfeeding, "conditions": list(self.conditions)}


def create_patient(db: Database, ctx: Context, *, clinic_id: int, display_name: str,
                   user_id: int | None = None, birth_date: date | None = None,
                   sex: str | None = None, weight_kg: float | None = None,
                   pregnant: bool | None = None, breastfeeding: bool | None = None,
                   conditions: tuple[str, ...] = (), synthetic: bool = False) -> PatientSummary:
    """A new patient record in `clinic_id` (clinic admins), optionally linked to the patient's
    own login `user_id` (a patient account of the same clinic)."""
    name = text("display_name", display_name, max_length=200)
    fields = _checked_profile(ctx, birth_date, sex, weight_kg, pregnant, breastfeeding)
    wanted = _checked_conditions(conditions)
    event = "patient.create"
    with db.transaction() as session:
        if session.get(Clinic, clinic_id) is None:
            raise NotFound("clinic", clinic_id)
        allowed = authorize(ctx.actor, PatientAction.CREATE, PatientRef(None, clinic_id))
        if allowed:
            _check_login(session, user_id, clinic_id, None)
            patient = Patient(clinic_id=clinic_id, display_name=name, user_id=user_id,
                              synthetic=synthetic, created_at=ctx.at, updated_at=ctx.at,
                              **fields)
            session.add(patient)
            session.flush()
            _set_conditions(session, patient.id, wanted, ctx.at)
            audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id, action=event,
                         patient_id=patient.id, target=f"patient:{patient.id}",
                         source=ctx.source)
            return _summary(patient)
    refuse(db, ctx, event, None, visible=True)


def link_login(db: Database, ctx: Context, patient_id: int, user_id: int | None) -> PatientSummary:
    """Link (or with None unlink) the patient's own login account."""
    with patient_access(db, ctx, patient_id, PatientAction.ORGANISE, "patient.link-login",
                        write=True) as access:
        _check_login(access.session, user_id, access.patient.clinic_id, patient_id)
        access.patient.user_id = user_id
        access.patient.updated_at = ctx.at
        access.point_at("user", user_id)
        return _summary(access.patient)


def get_patient(db: Database, ctx: Context, patient_id: int) -> PatientSummary:
    with patient_access(db, ctx, patient_id, PatientAction.VIEW, "patient.view") as access:
        return _summary(access.patient)


def list_patients(db: Database, ctx: Context, *, limit: int = 50,
                  offset: int = 0) -> list[PatientSummary]:
    """The patients the caller may see, by id, one page at a time. Each listed patient gets
    its own audit event."""
    if not 1 <= limit <= 500:
        raise InputError("limit", "must be between 1 and 500")
    if offset < 0:
        raise InputError("offset", "must not be negative")
    with db.transaction() as session:
        candidates = session.scalars(_candidates(ctx).order_by(Patient.id)
                                     .limit(limit).offset(offset)).all()
        teams = care_teams_of(session, [p.id for p in candidates])
        # The query narrows, the policy decides: a row the policy refuses is never shown.
        shown = [p for p in candidates
                 if authorize(ctx.actor, PatientAction.VIEW, patient_ref(p, teams[p.id]))]
        audit.append_each(session, at=ctx.at, actor_user_id=ctx.actor.user_id,
                          action="patient.list", patient_ids=[p.id for p in shown],
                          source=ctx.source)
        return [_summary(p) for p in shown]


def get_profile(db: Database, ctx: Context, patient_id: int) -> Profile:
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "profile.read") as access:
        return load_profile(access)


def update_profile(db: Database, ctx: Context, patient_id: int, *,
                   birth_date: date | Unset | None = UNSET, sex: str | Unset | None = UNSET,
                   weight_kg: float | Unset | None = UNSET,
                   pregnant: bool | Unset | None = UNSET,
                   breastfeeding: bool | Unset | None = UNSET,
                   conditions: tuple[str, ...] | Unset = UNSET) -> Profile:
    """Change the given profile fields (None clears one; UNSET leaves it). `conditions`
    replaces the active list; removed conditions keep their row with `removed_at`."""
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROFILE, "profile.update",
                        write=True) as access:
        patient = access.patient
        checked = _checked_profile(
            ctx,
            patient.birth_date if isinstance(birth_date, Unset) else birth_date,
            patient.sex if isinstance(sex, Unset) else sex,
            patient.weight_kg if isinstance(weight_kg, Unset) else weight_kg,
            patient.pregnant if isinstance(pregnant, Unset) else pregnant,
            patient.breastfeeding if isinstance(breastfeeding, Unset) else breastfeeding)
        for key, value in checked.items():
            setattr(patient, key, value)
        if not isinstance(conditions, Unset):
            _set_conditions(access.session, patient.id, _checked_conditions(conditions),
                            ctx.at)
        patient.updated_at = ctx.at
        access.point_at("patient", patient.id)
        return load_profile(access)


def load_profile(access: Access) -> Profile:
    """The profile of the patient behind an authorized access (for other use cases)."""
    patient = access.patient
    conditions = access.session.scalars(
        select(PatientCondition.text)
        .where(PatientCondition.patient_id == patient.id, PatientCondition.removed_at.is_(None))
        .order_by(PatientCondition.id)).all()
    return Profile(patient.id, patient.birth_date, patient.sex, patient.weight_kg,
                   patient.pregnant, patient.breastfeeding, tuple(conditions))


# ------------------------------------------------------------------------------- helpers


def _candidates(ctx: Context) -> Select[Patient]:
    actor = ctx.actor
    query = select(Patient).where(Patient.clinic_id == actor.clinic_id)
    if actor.role is Role.ADMIN:
        return query
    on_my_team = (select(CareTeamPatient.patient_id)
                  .join(CareTeamMember,
                        CareTeamMember.care_team_id == CareTeamPatient.care_team_id)
                  .where(CareTeamMember.user_id == actor.user_id))
    return query.where((Patient.user_id == actor.user_id) | Patient.id.in_(on_my_team))


def _checked_profile(ctx: Context, birth_date: date | None, sex: str | None,
                     weight_kg: float | None, pregnant: bool | None,
                     breastfeeding: bool | None) -> dict[str, object]:
    if birth_date is not None and birth_date < EARLIEST_BIRTH_DATE:
        raise InputError("birth_date", f"must not be before {EARLIEST_BIRTH_DATE.isoformat()}")
    not_after("birth_date", birth_date, ctx.now.date())
    if sex is not None and sex not in SEXES:
        raise InputError("sex", f"must be one of {', '.join(SEXES)}")
    weight = positive("weight_kg", weight_kg)
    if weight is not None and weight > MAX_WEIGHT_KG:
        raise InputError("weight_kg", f"must be at most {MAX_WEIGHT_KG:g} kg")
    return {"birth_date": birth_date, "sex": sex, "weight_kg": weight, "pregnant": pregnant,
            "breastfeeding": breastfeeding}


def _checked_conditions(conditions: tuple[str, ...]) -> list[str]:
    if len(conditions) > MAX_CONDITIONS:
        raise InputError("conditions", f"at most {MAX_CONDITIONS} conditions")
    cleaned = [text(f"conditions.{i}", c, max_length=200) for i, c in enumerate(conditions)]
    return list(dict.fromkeys(cleaned))


def _set_conditions(session: Session, patient_id: int, wanted: list[str],
                    at: datetime) -> None:
    active = session.scalars(select(PatientCondition).where(
        PatientCondition.patient_id == patient_id, PatientCondition.removed_at.is_(None))).all()
    current = {row.text: row for row in active}
    for name, row in current.items():
        if name not in wanted:
            row.removed_at = at
    for name in wanted:
        if name not in current:
            session.add(PatientCondition(patient_id=patient_id, text=name, added_at=at))


def _check_login(session: Session, user_id: int | None, clinic_id: int,
                 patient_id: int | None) -> None:
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or user.clinic_id != clinic_id or user.role != Role.PATIENT:
        raise InputError("user_id", "must be a patient account of the same clinic")
    owner = session.scalar(select(Patient.id).where(Patient.user_id == user_id))
    if owner is not None and owner != patient_id:
        raise Conflict("this login already belongs to a patient record")


def _summary(patient: Patient) -> PatientSummary:
    return PatientSummary(patient.id, patient.clinic_id, patient.display_name, patient.user_id,
                          patient.synthetic)
