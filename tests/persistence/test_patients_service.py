"""Patients, profiles and care teams: who sees whom, and profile edits."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from lowdose.errors import InputError
from lowdose.services import accounts, careteams, patients
from lowdose.services.errors import Conflict, Forbidden, NotFound
from lowdose.store.models import PatientCondition

from .conftest import PASSWORD, Cast

# Whom each persona finds in the patient list (design §3.4 GET /patients: what they may see).
SEES = {
    "patient": {"alice"},
    "second_patient": {"bob"},
    "clinician": {"alice", "bob"},
    "team_admin": {"alice", "bob"},
    "admin": {"alice", "bob"},
    "other_clinician": {"erin"},
    "outsider": set(),
    "operator": set(),
}


@pytest.mark.parametrize(("persona", "expected"), sorted(SEES.items()))
def test_the_patient_list_shows_exactly_whom_the_caller_may_see(
        cast: Cast, persona: str, expected: set[str]) -> None:
    names = {"alice": cast.ids.alice, "bob": cast.ids.bob, "erin": cast.ids.erin}
    listed = patients.list_patients(cast.db, cast.ctx(persona))
    assert {p.id for p in listed} == {names[n] for n in expected}
    for name, patient_id in names.items():
        if name in expected:
            assert patients.get_patient(cast.db, cast.ctx(persona), patient_id).id == patient_id
        else:
            with pytest.raises(NotFound):
                patients.get_patient(cast.db, cast.ctx(persona), patient_id)


def test_the_list_pages_by_id(cast: Cast) -> None:
    ctx = cast.ctx("admin")
    extra = [patients.create_patient(cast.db, ctx, clinic_id=cast.ids.clinic_a,
                                     display_name=f"P{i}", synthetic=True).id for i in range(5)]
    everyone = [cast.ids.alice, cast.ids.bob, *extra]
    pages = [patients.list_patients(cast.db, ctx, limit=3, offset=o) for o in (0, 3, 6)]
    assert [[p.id for p in page] for page in pages] == [everyone[:3], everyone[3:6],
                                                        everyone[6:]]
    with pytest.raises(InputError):
        patients.list_patients(cast.db, ctx, limit=0)


def test_an_admin_sees_who_a_patient_is_but_not_their_profile(cast: Cast) -> None:
    ctx = cast.ctx("admin")
    assert patients.get_patient(cast.db, ctx, cast.ids.alice).display_name == "Alice"
    with pytest.raises(Forbidden):
        patients.get_profile(cast.db, ctx, cast.ids.alice)
    assert patients.get_profile(cast.db, cast.ctx("team_admin"), cast.ids.alice).patient_id == (
        cast.ids.alice)


def test_profile_updates_change_only_the_given_fields(cast: Cast) -> None:
    ctx = cast.ctx("patient")
    patients.update_profile(cast.db, ctx, cast.ids.alice, birth_date=date(1973, 1, 15),
                            sex="female", weight_kg=70, pregnant=False)
    updated = patients.update_profile(cast.db, ctx, cast.ids.alice, weight_kg=68.5,
                                      pregnant=None)
    assert (updated.birth_date, updated.sex, updated.weight_kg, updated.pregnant) == (
        date(1973, 1, 15), "female", 68.5, None)
    assert updated.age_on(date(2025, 1, 14)) == 51
    assert updated.age_on(date(2025, 1, 15)) == 52


def test_conditions_are_replaced_and_removed_ones_kept(cast: Cast) -> None:
    ctx = cast.ctx("clinician")
    patients.update_profile(cast.db, ctx, cast.ids.alice,
                            conditions=("fibromyalgia", "hashimoto thyroiditis"))
    profile = patients.update_profile(cast.db, ctx, cast.ids.alice,
                                      conditions=("fibromyalgia", "long covid", "fibromyalgia"))
    assert profile.conditions == ("fibromyalgia", "long covid")
    with cast.db.transaction(write=False) as session:
        rows = session.scalars(select(PatientCondition).order_by(PatientCondition.id)).all()
    assert [(r.text, r.removed_at is not None) for r in rows] == [
        ("fibromyalgia", False), ("hashimoto thyroiditis", True), ("long covid", False)]


@pytest.mark.parametrize(("change", "field"), [
    ({"birth_date": date(2030, 1, 1)}, "birth_date"),
    ({"birth_date": date(1850, 1, 1)}, "birth_date"),
    ({"sex": "f"}, "sex"),
    ({"weight_kg": 0}, "weight_kg"),
    ({"weight_kg": 7000}, "weight_kg"),
    ({"conditions": ("fibromyalgia", " ")}, "conditions.1"),
])
def test_bad_profile_values_name_the_field_and_change_nothing(cast: Cast, change: dict[str, object],
                                                              field: str) -> None:
    ctx = cast.ctx("patient")
    before = patients.get_profile(cast.db, ctx, cast.ids.alice)
    with pytest.raises(InputError) as error:
        patients.update_profile(cast.db, ctx, cast.ids.alice, **change)  # type: ignore[arg-type]
    assert error.value.field == field
    assert patients.get_profile(cast.db, ctx, cast.ids.alice) == before


@pytest.mark.parametrize(("persona", "error"), [
    ("admin", None), ("team_admin", None), ("clinician", Forbidden), ("patient", Forbidden),
    ("operator", Forbidden),
])
def test_who_may_create_a_patient_record(cast: Cast, persona: str,
                                         error: type[Exception] | None) -> None:
    def create() -> patients.PatientSummary:
        return patients.create_patient(cast.db, cast.ctx(persona), clinic_id=cast.ids.clinic_a,
                                       display_name="New", synthetic=True)

    if error is None:
        assert create().clinic_id == cast.ids.clinic_a
    else:
        with pytest.raises(error):
            create()


def test_an_admin_cannot_create_patients_in_another_clinic(cast: Cast) -> None:
    with pytest.raises(Forbidden):
        patients.create_patient(cast.db, cast.ctx("admin"), clinic_id=cast.ids.clinic_b,
                                display_name="Elsewhere")


def test_a_login_links_to_one_patient_record_of_its_own_clinic(cast: Cast) -> None:
    admin = cast.ctx("admin")
    login = accounts.create_user(cast.db, admin, clinic_id=cast.ids.clinic_a, username="fran",
                                 password=PASSWORD, role="patient")
    record = patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                                     display_name="Fran", user_id=login.id)
    assert accounts.me(cast.db, cast.ctx_of(login)).patient_id == record.id
    with pytest.raises(Conflict):
        patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                                display_name="Fran again", user_id=login.id)
    for wrong in (cast.user("clinician").id, cast.user("other_clinician").id):
        with pytest.raises(InputError):
            patients.link_login(cast.db, admin, record.id, wrong)


# ------------------------------------------------------------------------------ care teams


def test_assigning_a_patient_to_a_team_opens_the_record_to_its_clinicians(cast: Cast) -> None:
    admin, outsider = cast.ctx("admin"), cast.ctx("outsider")
    team = careteams.create_care_team(cast.db, admin, cast.ids.clinic_a, "Pain clinic")
    careteams.add_member(cast.db, admin, team.id, cast.user("outsider").id)
    with pytest.raises(NotFound):
        patients.get_profile(cast.db, outsider, cast.ids.alice)
    view = careteams.assign_patient(cast.db, admin, team.id, cast.ids.alice)
    assert (view.member_ids, view.patient_ids) == ((cast.user("outsider").id,),
                                                   (cast.ids.alice,))
    assert patients.get_profile(cast.db, outsider, cast.ids.alice).patient_id == cast.ids.alice
    careteams.unassign_patient(cast.db, admin, team.id, cast.ids.alice)
    with pytest.raises(NotFound):
        patients.get_profile(cast.db, outsider, cast.ids.alice)


@pytest.mark.parametrize(("persona", "user", "error"), [
    ("admin", "patient", InputError),  # patients are not team members
    ("admin", "other_clinician", InputError),  # another clinic's clinician
    ("clinician", "outsider", NotFound),  # clinicians do not organise teams
    ("other_clinician", "outsider", NotFound),
])
def test_care_team_membership_rules(cast: Cast, persona: str, user: str,
                                    error: type[Exception]) -> None:
    with pytest.raises(error):
        careteams.add_member(cast.db, cast.ctx(persona), cast.ids.team_a, cast.user(user).id)


def test_a_patient_cannot_join_another_clinics_team(cast: Cast) -> None:
    with pytest.raises(NotFound):  # admin A does not organise clinic B's team
        careteams.assign_patient(cast.db, cast.ctx("admin"), cast.ids.team_b, cast.ids.alice)
    [bea] = [u for u in accounts.list_users(cast.db, cast.ctx("operator"), cast.ids.clinic_b)
             if u.role == "admin"]
    ctx_b = cast.ctx_of(bea)
    with pytest.raises(NotFound):  # and admin B does not know Alice
        careteams.assign_patient(cast.db, ctx_b, cast.ids.team_b, cast.ids.alice)
