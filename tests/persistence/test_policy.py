"""The access policy, persona by persona, on records loaded from a real database.

The expected table restates issue 3: patient — self; clinician — own care-team patients;
admin — own clinic, no clinical data unless also on the care team (then read only); nobody
crosses clinics; the operator sets up accounts but reads no patient data.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowdose.security.policy import (
    CLINIC_RULES,
    RULES,
    Actor,
    ClinicAction,
    PatientAction,
    PatientRef,
    Role,
    authorize,
    authorize_clinic,
)
from lowdose.services._access import load_ref

from .conftest import Cast

A = PatientAction
ORDER = ("patient", "second_patient", "clinician", "other_clinician", "admin", "team_admin",
         "outsider", "operator")

# Rows: action on Alice's record (Alice is the persona "patient", on care team A).
# Columns follow ORDER; Y = allowed.
ON_ALICE = {
    A.VIEW:                 "Y N Y N Y Y N N",
    A.ORGANISE:             "N N N N Y Y N N",
    A.READ_RECORD:          "Y N Y N N Y N N",
    A.EDIT_PROFILE:         "Y N Y N N N N N",
    A.EDIT_MEDICINES:       "Y N Y N N N N N",
    A.RECORD_CHECKIN:       "Y N Y N N N N N",
    A.RECORD_QUESTIONNAIRE: "Y N Y N N N N N",
    A.EDIT_PROCEDURES:      "Y N Y N N N N N",
    A.PRESCRIBE:            "N N Y N N N N N",
    A.CREATE:               "N N N N N N N N",  # Alice exists already
}
# Erin is clinic B's patient, cared for by the "other_clinician".
ON_ERIN = {
    A.VIEW:        "N N N Y N N N N",
    A.READ_RECORD: "N N N Y N N N N",
    A.PRESCRIBE:   "N N N Y N N N N",
    A.ORGANISE:    "N N N N N N N N",
}
# Creating a new patient in clinic A.
CREATE_IN_A = "N N N N Y Y N N"


def _cases(table: dict[PatientAction, str]) -> list[tuple[PatientAction, str, bool]]:
    return [(action, persona, flag == "Y")
            for action, row in table.items()
            for persona, flag in zip(ORDER, row.split(), strict=True)]


def _ref(cast: Cast, patient_id: int) -> PatientRef:
    with cast.db.transaction(write=False) as session:
        _, ref = load_ref(session, patient_id, lock=False)
    assert ref is not None
    return ref


def test_the_tables_cover_every_action() -> None:
    assert set(ON_ALICE) == set(PatientAction) == set(RULES)
    assert set(CLINIC_RULES) == set(ClinicAction)


@pytest.mark.parametrize(("action", "persona", "allowed"), _cases(ON_ALICE))
def test_access_to_a_clinic_a_record(cast: Cast, action: PatientAction, persona: str,
                                     allowed: bool) -> None:
    decision = authorize(cast.actor(persona), action, _ref(cast, cast.ids.alice))
    assert decision.allowed is allowed, decision.reason


@pytest.mark.parametrize(("action", "persona", "allowed"), _cases(ON_ERIN))
def test_nobody_crosses_clinics(cast: Cast, action: PatientAction, persona: str,
                                allowed: bool) -> None:
    assert authorize(cast.actor(persona), action, _ref(cast, cast.ids.erin)).allowed is allowed


@pytest.mark.parametrize(("persona", "allowed"),
                         list(zip(ORDER, (f == "Y" for f in CREATE_IN_A.split()), strict=True)))
def test_who_may_create_a_patient(cast: Cast, persona: str, allowed: bool) -> None:
    new = PatientRef(id=None, clinic_id=cast.ids.clinic_a)
    assert authorize(cast.actor(persona), A.CREATE, new).allowed is allowed


def test_being_put_on_the_care_team_gives_a_clinician_the_record(cast: Cast) -> None:
    from lowdose.services import careteams

    outsider = cast.actor("outsider")
    before = authorize(outsider, A.READ_RECORD, _ref(cast, cast.ids.alice))
    careteams.add_member(cast.db, cast.ctx("admin"), cast.ids.team_a, cast.user("outsider").id)
    after = authorize(outsider, A.READ_RECORD, _ref(cast, cast.ids.alice))
    assert (before.allowed, after.allowed) == (False, True)


@pytest.mark.parametrize("action", list(PatientAction))
def test_nobody_signed_in_and_unknown_patients_are_refused(cast: Cast,
                                                           action: PatientAction) -> None:
    assert not authorize(None, action, _ref(cast, cast.ids.alice))
    assert not authorize(cast.actor("clinician"), action, None)


@pytest.mark.parametrize(("persona", "clinic", "action", "allowed"), [
    ("operator", None, ClinicAction.CREATE_CLINIC, True),
    ("admin", None, ClinicAction.CREATE_CLINIC, False),
    ("operator", "a", ClinicAction.MANAGE_USERS, True),
    ("admin", "a", ClinicAction.MANAGE_USERS, True),
    ("admin", "b", ClinicAction.MANAGE_USERS, False),
    ("admin", "a", ClinicAction.MANAGE_CARE_TEAMS, True),
    ("admin", "a", ClinicAction.READ_AUDIT, True),
    ("clinician", "a", ClinicAction.MANAGE_USERS, False),
    ("clinician", "a", ClinicAction.MANAGE_CARE_TEAMS, False),
    ("patient", "a", ClinicAction.READ_AUDIT, False),
    ("outsider", "a", ClinicAction.MANAGE_USERS, False),
])
def test_clinic_administration(cast: Cast, persona: str, clinic: str | None,
                               action: ClinicAction, allowed: bool) -> None:
    clinic_id = {None: None, "a": cast.ids.clinic_a, "b": cast.ids.clinic_b}[clinic]
    assert authorize_clinic(cast.actor(persona), action, clinic_id).allowed is allowed


# ------------------------------------------------------------------------------ properties

ids = st.integers(min_value=1, max_value=6)
actors = st.builds(Actor, user_id=ids | st.none(), role=st.sampled_from(Role),
                   clinic_id=ids | st.none())
refs = st.builds(PatientRef, id=ids | st.none(), clinic_id=ids, user_id=ids | st.none(),
                 care_team=st.frozensets(ids, max_size=3))


@given(actor=actors, action=st.sampled_from(PatientAction), patient=refs)
def test_what_any_allowed_access_implies(actor: Actor, action: PatientAction,
                                         patient: PatientRef) -> None:
    decision = authorize(actor, action, patient)
    if not decision:
        return
    assert actor.user_id is not None and actor.clinic_id == patient.clinic_id
    assert actor.role is not Role.OPERATOR
    own = actor.user_id == patient.user_id
    on_team = actor.user_id in patient.care_team
    if action in (A.VIEW, A.CREATE, A.ORGANISE):
        assert own or on_team or actor.role is Role.ADMIN
    elif action is A.READ_RECORD:
        assert own or on_team
    elif action is A.PRESCRIBE:
        assert on_team and actor.role is Role.CLINICIAN
    else:  # writing the record
        assert own or (on_team and actor.role is Role.CLINICIAN)
