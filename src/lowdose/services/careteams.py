"""Care teams: the clinicians (and possibly admins) who look after a group of patients.

Being on a patient's care team is what lets a clinician see and keep that patient's record
(see `security.policy`). Admins of the clinic organise the teams.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lowdose.errors import InputError
from lowdose.security import audit
from lowdose.security.policy import ClinicAction, PatientAction, Role, authorize_clinic
from lowdose.services._access import patient_access
from lowdose.services._checks import text
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.store.db import Database
from lowdose.store.models import CareTeam, CareTeamMember, CareTeamPatient, Clinic, User

STAFF_ROLES = (Role.CLINICIAN, Role.ADMIN)


@dataclass(frozen=True)
class CareTeamView:
    id: int
    clinic_id: int
    name: str
    member_ids: tuple[int, ...]
    patient_ids: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "clinic_id": self.clinic_id, "name": self.name,
                "member_ids": list(self.member_ids), "patient_ids": list(self.patient_ids)}


def create_care_team(db: Database, ctx: Context, clinic_id: int, name: str) -> CareTeamView:
    name = text("name", name, max_length=200)
    _require(ctx, clinic_id)
    with db.transaction() as session:
        if session.get(Clinic, clinic_id) is None:
            raise NotFound("clinic", clinic_id)
        taken = select(CareTeam.id).where(CareTeam.clinic_id == clinic_id, CareTeam.name == name)
        if session.scalar(taken) is not None:
            raise Conflict("this clinic already has a care team of that name")
        team = CareTeam(clinic_id=clinic_id, name=name, created_at=ctx.at)
        session.add(team)
        session.flush()
        _audit(session, ctx, "care-team.create", team.id)
        return _view(session, team)


def list_care_teams(db: Database, ctx: Context, clinic_id: int) -> list[CareTeamView]:
    _require(ctx, clinic_id)
    with db.transaction(write=False) as session:
        teams = session.scalars(select(CareTeam).where(CareTeam.clinic_id == clinic_id)
                                .order_by(CareTeam.id)).all()
        return [_view(session, team) for team in teams]


def add_member(db: Database, ctx: Context, team_id: int, user_id: int) -> CareTeamView:
    """Put a clinician or admin of the team's clinic on the team."""
    with db.transaction() as session:
        team = _team(session, ctx, team_id)
        user = session.get(User, user_id)
        if user is None or user.clinic_id != team.clinic_id or user.role not in STAFF_ROLES:
            raise InputError("user_id", "must be a clinician or admin of the same clinic")
        if session.get(CareTeamMember, (team_id, user_id)) is None:
            session.add(CareTeamMember(care_team_id=team_id, user_id=user_id, added_at=ctx.at))
        _audit(session, ctx, "care-team.add-member", team_id, f"user:{user_id}")
        return _view(session, team)


def remove_member(db: Database, ctx: Context, team_id: int, user_id: int) -> CareTeamView:
    with db.transaction() as session:
        team = _team(session, ctx, team_id)
        session.execute(delete(CareTeamMember).where(CareTeamMember.care_team_id == team_id,
                                                     CareTeamMember.user_id == user_id))
        _audit(session, ctx, "care-team.remove-member", team_id, f"user:{user_id}")
        return _view(session, team)


def assign_patient(db: Database, ctx: Context, team_id: int, patient_id: int) -> CareTeamView:
    """Put a patient of the team's clinic in the team's care."""
    return _place(db, ctx, team_id, patient_id, assign=True)


def unassign_patient(db: Database, ctx: Context, team_id: int,
                     patient_id: int) -> CareTeamView:
    return _place(db, ctx, team_id, patient_id, assign=False)


def _place(db: Database, ctx: Context, team_id: int, patient_id: int, *,
           assign: bool) -> CareTeamView:
    event = "care-team.assign-patient" if assign else "care-team.unassign-patient"
    with patient_access(db, ctx, patient_id, PatientAction.ORGANISE, event,
                        write=True) as access:
        session = access.session
        team = _team(session, ctx, team_id)
        if team.clinic_id != access.patient.clinic_id:
            raise InputError("team_id", "must be a care team of the patient's clinic")
        link = session.get(CareTeamPatient, (team_id, patient_id))
        if assign and link is None:
            session.add(CareTeamPatient(care_team_id=team_id, patient_id=patient_id,
                                        added_at=ctx.at))
        if not assign and link is not None:
            session.delete(link)
        session.flush()
        access.point_at("care-team", team_id)
        return _view(session, team)


def _require(ctx: Context, clinic_id: int) -> None:
    if not authorize_clinic(ctx.actor, ClinicAction.MANAGE_CARE_TEAMS, clinic_id):
        raise Forbidden("not allowed: manage care teams")


def _team(session: Session, ctx: Context, team_id: int) -> CareTeam:
    team = session.get(CareTeam, team_id)
    if team is None or not authorize_clinic(ctx.actor, ClinicAction.MANAGE_CARE_TEAMS,
                                            team.clinic_id):
        raise NotFound("care team", team_id)
    return team


def _view(session: Session, team: CareTeam) -> CareTeamView:
    members = session.scalars(select(CareTeamMember.user_id)
                              .where(CareTeamMember.care_team_id == team.id)
                              .order_by(CareTeamMember.user_id)).all()
    patients = session.scalars(select(CareTeamPatient.patient_id)
                               .where(CareTeamPatient.care_team_id == team.id)
                               .order_by(CareTeamPatient.patient_id)).all()
    return CareTeamView(team.id, team.clinic_id, team.name, tuple(members), tuple(patients))


def _audit(session: Session, ctx: Context, action: str, team_id: int,
           target: str | None = None) -> None:
    audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id, action=action,
                 target=target or f"care-team:{team_id}", source=ctx.source)
