"""Who may do what with a patient's data: one deny-by-default decision for every access.

- A patient may see and keep their own record, but not prescribe.
- A clinician may see and keep the records of patients on their care teams, and prescribe.
- A clinic admin may see who the clinic's patients are and organise them (create, assign to a
  care team), but sees no clinical data unless also on the patient's care team, and then only
  reads it.
- Nobody crosses clinics, and anything not listed in RULES is refused.

Clinic administration (users, care teams, the audit log) is decided by `authorize_clinic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PATIENT = "patient"
    CLINICIAN = "clinician"
    ADMIN = "admin"
    # Whoever runs the server from its shell (`lowdose users add`): sets up clinics and
    # accounts, never reads patient data.
    OPERATOR = "operator"


class PatientAction(StrEnum):
    VIEW = "patient.view"  # who the patient is: name, clinic, care teams
    CREATE = "patient.create"
    ORGANISE = "patient.organise"  # care-team membership, linked login
    READ_RECORD = "record.read"  # profile, medicines, courses, plans, diary, screen
    EDIT_PROFILE = "record.profile.write"
    EDIT_MEDICINES = "record.medicines.write"
    RECORD_CHECKIN = "record.checkins.write"
    RECORD_QUESTIONNAIRE = "record.questionnaires.write"
    EDIT_PROCEDURES = "record.procedures.write"
    PRESCRIBE = "record.courses.write"  # LDN courses and titration plans


class ClinicAction(StrEnum):
    CREATE_CLINIC = "clinic.create"
    MANAGE_USERS = "clinic.users"
    MANAGE_CARE_TEAMS = "clinic.care-teams"
    READ_AUDIT = "clinic.audit"


class Relation(StrEnum):
    SELF = "self"
    CARE_TEAM_CLINICIAN = "care-team-clinician"
    CARE_TEAM_ADMIN = "care-team-admin"
    CLINIC_ADMIN = "clinic-admin"


@dataclass(frozen=True)
class Actor:
    """The signed-in user a request acts for (or the operator, with no user id)."""

    user_id: int | None
    role: Role
    clinic_id: int | None


OPERATOR = Actor(user_id=None, role=Role.OPERATOR, clinic_id=None)


@dataclass(frozen=True)
class PatientRef:
    """What the policy needs to know about a patient. `id` is None for one not yet created."""

    id: int | None
    clinic_id: int
    user_id: int | None = None
    care_team: frozenset[int] = frozenset()  # user ids on any of the patient's care teams


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


_SELF = Relation.SELF
_CLINICIAN = Relation.CARE_TEAM_CLINICIAN
_TEAM_ADMIN = Relation.CARE_TEAM_ADMIN
_ADMIN = Relation.CLINIC_ADMIN

RULES: dict[PatientAction, frozenset[Relation]] = {
    PatientAction.VIEW: frozenset({_SELF, _CLINICIAN, _TEAM_ADMIN, _ADMIN}),
    PatientAction.CREATE: frozenset({_ADMIN}),
    PatientAction.ORGANISE: frozenset({_ADMIN}),
    PatientAction.READ_RECORD: frozenset({_SELF, _CLINICIAN, _TEAM_ADMIN}),
    PatientAction.EDIT_PROFILE: frozenset({_SELF, _CLINICIAN}),
    PatientAction.EDIT_MEDICINES: frozenset({_SELF, _CLINICIAN}),
    PatientAction.RECORD_CHECKIN: frozenset({_SELF, _CLINICIAN}),
    PatientAction.RECORD_QUESTIONNAIRE: frozenset({_SELF, _CLINICIAN}),
    PatientAction.EDIT_PROCEDURES: frozenset({_SELF, _CLINICIAN}),
    PatientAction.PRESCRIBE: frozenset({_CLINICIAN}),
}

CLINIC_RULES: dict[ClinicAction, frozenset[Role]] = {
    ClinicAction.CREATE_CLINIC: frozenset({Role.OPERATOR}),
    ClinicAction.MANAGE_USERS: frozenset({Role.OPERATOR, Role.ADMIN}),
    ClinicAction.MANAGE_CARE_TEAMS: frozenset({Role.OPERATOR, Role.ADMIN}),
    ClinicAction.READ_AUDIT: frozenset({Role.OPERATOR, Role.ADMIN}),
}


def relations(actor: Actor, patient: PatientRef) -> frozenset[Relation]:
    """How `actor` stands to `patient`; empty across clinics."""
    # The operator runs the server, not a clinic: no relation to any patient, whatever ids say.
    if actor.role is Role.OPERATOR or actor.user_id is None:
        return frozenset()
    if actor.clinic_id != patient.clinic_id:
        return frozenset()
    found: set[Relation] = set()
    if patient.id is not None and actor.user_id == patient.user_id and actor.role is Role.PATIENT:
        found.add(Relation.SELF)
    on_team = patient.id is not None and actor.user_id in patient.care_team
    if on_team and actor.role is Role.CLINICIAN:
        found.add(Relation.CARE_TEAM_CLINICIAN)
    if on_team and actor.role is Role.ADMIN:
        found.add(Relation.CARE_TEAM_ADMIN)
    if actor.role is Role.ADMIN:
        found.add(Relation.CLINIC_ADMIN)
    return frozenset(found)


def authorize(actor: Actor | None, action: PatientAction, patient: PatientRef | None) -> Decision:
    """May `actor` do `action` to `patient`? Refused unless a rule says yes."""
    if actor is None:
        return Decision(False, "not signed in")
    if patient is None:
        return Decision(False, "no such patient")
    if (action is PatientAction.CREATE) != (patient.id is None):
        return Decision(False, "only a patient not yet created can be created")
    allowed_by = RULES.get(action, frozenset()) & relations(actor, patient)
    if not allowed_by:
        return Decision(False, f"no rule lets a {actor.role} do {action} here")
    return Decision(True, ",".join(sorted(allowed_by)))


def authorize_clinic(actor: Actor | None, action: ClinicAction, clinic_id: int | None) -> Decision:
    """May `actor` administer `clinic_id` (None: the whole server) with `action`?"""
    if actor is None:
        return Decision(False, "not signed in")
    if actor.role not in CLINIC_RULES.get(action, frozenset()):
        return Decision(False, f"a {actor.role} may not do {action}")
    if actor.role is Role.OPERATOR:
        return Decision(True, "operator")
    if clinic_id is None or actor.clinic_id != clinic_id:
        return Decision(False, "another clinic")
    return Decision(True, "clinic-admin")
