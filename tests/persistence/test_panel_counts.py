"""The panel's total ("Patients 1–25 of N"), on SQLite and PostgreSQL: each patient counted
once however many of the clinician's care teams hold them, and only those the filters keep."""

from __future__ import annotations

from lowdose.security.policy import Actor, Role
from lowdose.services import careteams, panel, patients
from lowdose.services.context import Context

from .conftest import NOW, Cast


def _admin(cast: Cast) -> Context:
    admin = cast.user("admin")
    return Context(Actor(admin.id, Role.ADMIN, admin.clinic_id), NOW, "test")


def test_a_patient_on_two_of_my_care_teams_is_counted_once(cast: Cast) -> None:
    admin = _admin(cast)
    second = careteams.create_care_team(cast.db, admin, cast.ids.clinic_a, "Night team").id
    careteams.add_member(cast.db, admin, second, cast.user("clinician").id)
    careteams.assign_patient(cast.db, admin, second, cast.ids.alice)
    only_there = patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                                         display_name="Alina", synthetic=True).id
    careteams.assign_patient(cast.db, admin, second, only_there)

    page = panel.clinic_panel(cast.db, cast.ctx("clinician"))

    assert page.total == 3
    assert sorted(r.patient_id for r in page.rows) == sorted(
        [cast.ids.alice, cast.ids.bob, only_there])
    named = panel.clinic_panel(cast.db, cast.ctx("clinician"), search="ali")
    assert (named.total, {r.display_name for r in named.rows}) == (2, {"Alice", "Alina"})


def test_the_total_holds_only_the_clinicians_own_patients(cast: Cast) -> None:
    admin = _admin(cast)
    patients.create_patient(cast.db, admin, clinic_id=cast.ids.clinic_a,
                            display_name="Nobody's", synthetic=True)
    assert panel.clinic_panel(cast.db, cast.ctx("clinician")).total == 2
    assert panel.clinic_panel(cast.db, cast.ctx("other_clinician")).total == 1
    assert panel.clinic_panel(cast.db, cast.ctx("outsider")).total == 0
    assert panel.clinic_panel(cast.db, cast.ctx("admin")).total == 3  # the clinic, by name
