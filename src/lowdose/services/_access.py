"""The shared shape of a patient-data use case: load → authorize → (work) → audit.

`patient_access` opens the transaction, loads the patient, asks the policy, hands the session to
the use case and, when the work is done, appends the audit event to the same transaction. A
refusal is itself audited, in its own transaction, before the error is raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from lowdose.security import audit
from lowdose.security.policy import PatientAction, PatientRef, authorize
from lowdose.services.context import Context
from lowdose.services.errors import Forbidden, NotFound
from lowdose.store.db import Database
from lowdose.store.models import CareTeamMember, CareTeamPatient, Patient


@dataclass
class Access:
    """An authorized patient, the open transaction, and what to say in the audit event."""

    session: Session
    patient: Patient
    ctx: Context
    target: str | None = None

    def point_at(self, kind: str, ident: object) -> None:
        """Name the record the use case touched, for the audit event."""
        self.target = f"{kind}:{ident}"


def care_teams_of(session: Session, patient_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """User ids on the care teams of each patient."""
    ids = list(patient_ids)
    rows = session.execute(
        select(CareTeamPatient.patient_id, CareTeamMember.user_id)
        .join(CareTeamMember, CareTeamMember.care_team_id == CareTeamPatient.care_team_id)
        .where(CareTeamPatient.patient_id.in_(ids))
    ).all()
    teams: dict[int, set[int]] = {pid: set() for pid in ids}
    for patient_id, user_id in rows:
        teams[patient_id].add(user_id)
    return {pid: frozenset(users) for pid, users in teams.items()}


def patient_ref(patient: Patient, care_team: frozenset[int]) -> PatientRef:
    return PatientRef(id=patient.id, clinic_id=patient.clinic_id, user_id=patient.user_id,
                      care_team=care_team)


# Built once: this runs at the start of every patient-data use case.
_PATIENT_AND_TEAM = (
    select(Patient, CareTeamMember.user_id)
    .outerjoin(CareTeamPatient, CareTeamPatient.patient_id == Patient.id)
    .outerjoin(CareTeamMember, CareTeamMember.care_team_id == CareTeamPatient.care_team_id)
    .where(Patient.id == bindparam("patient")))
# Writers lock the patient row: on PostgreSQL two writes to one record queue up instead of
# racing (SQLite's BEGIN IMMEDIATE already serialises writers).
_PATIENT_AND_TEAM_LOCKED = _PATIENT_AND_TEAM.with_for_update(of=Patient)


def load_ref(session: Session, patient_id: int, *, lock: bool) -> tuple[Patient | None,
                                                                        PatientRef | None]:
    """The patient and what the policy needs to know about them, in one query."""
    query = _PATIENT_AND_TEAM_LOCKED if lock else _PATIENT_AND_TEAM
    rows = session.execute(query, {"patient": patient_id}).all()
    if not rows:
        return None, None
    patient = rows[0][0]
    team = frozenset(user_id for _, user_id in rows if user_id is not None)
    return patient, patient_ref(patient, team)


@contextmanager
def patient_access(db: Database, ctx: Context, patient_id: int, action: PatientAction,
                   event: str, *, write: bool = False) -> Iterator[Access]:
    """Run one use case on one patient's data; `event` names it in the audit log."""
    with db.transaction() as session:
        patient, ref = load_ref(session, patient_id, lock=write)
        decision = authorize(ctx.actor, action, ref)
        if decision.allowed and patient is not None:
            access = Access(session=session, patient=patient, ctx=ctx)
            yield access
            audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id, action=event,
                         patient_id=patient.id, target=access.target, source=ctx.source)
            return
        visible = authorize(ctx.actor, PatientAction.VIEW, ref).allowed
    refuse(db, ctx, event, patient_id, visible=visible)


def refuse(db: Database, ctx: Context, event: str, patient_id: int | None, *,
           visible: bool) -> NoReturn:
    """Audit a refused request, then raise: 404 when the caller may not even know the patient
    exists (so ids cannot be probed), 403 when they may."""
    with db.transaction() as session:
        audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id, action=event,
                     outcome=audit.DENIED, patient_id=patient_id, source=ctx.source)
    if visible:
        raise Forbidden(f"not allowed: {event}")
    raise NotFound("patient", patient_id)
