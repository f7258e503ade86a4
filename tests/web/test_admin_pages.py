"""The admin pages over real HTTP, on SQLite and PostgreSQL: users and roles, care teams, the
audit log search and backups, each for the admin's own clinic only."""

from __future__ import annotations

from sqlalchemy import select

from lowdose.services import accounts, careteams
from lowdose.store.models import AuditEvent, Patient
from web.conftest import PASSWORD, Site, csrf_of
from web.test_patient_pages import post


def test_an_admin_adds_a_clinician_who_can_sign_in(site: Site) -> None:
    with site.signed_in("admin") as client:
        page = client.get("/admin/users").text
        assert "carol" in page and "dave" not in page  # clinic B's clinician stays hidden
        added = post(client, "/admin/users", {"username": "Nina", "display_name": "Dr Nina",
                                              "role": "clinician", "password": PASSWORD})
        assert added.status_code == 200 and "Added nina as clinician" in added.text
    with site.client() as nina:
        form = nina.get("/signin")
        response = nina.post("/signin", data={"username": "nina", "password": PASSWORD,
                                              "csrf_token": csrf_of(form.text)})
        assert response.headers["location"] == "/clinic/panel"


def test_a_patient_account_comes_with_its_record(site: Site) -> None:
    with site.signed_in("admin") as client:
        post(client, "/admin/users", {"username": "pat", "role": "patient",
                                      "password": PASSWORD})
    with site.cast.db.transaction(write=False) as session:
        assert session.scalar(select(Patient.display_name).where(
            Patient.display_name == "pat")) == "pat"


def test_a_bad_new_user_names_the_field_and_stores_nothing(site: Site) -> None:
    with site.signed_in("admin") as client:
        weak = post(client, "/admin/users", {"username": "weak", "role": "clinician",
                                             "password": "123"})
        taken = post(client, "/admin/users", {"username": "carol", "role": "clinician",
                                              "password": PASSWORD})
    assert weak.status_code == 422 and "password" in weak.text
    assert taken.status_code == 409 and "taken" in taken.text
    names = [u.username for u in accounts.list_users(site.cast.db, site.cast.ctx("admin"),
                                                     site.cast.ids.clinic_a)]
    assert "weak" not in names


def test_disabling_a_user_ends_their_sessions(site: Site) -> None:
    carol = site.cast.user("clinician")
    with site.signed_in("clinician") as clinician, site.signed_in("admin") as admin:
        assert clinician.get("/", follow_redirects=False).headers["location"] == \
            "/clinic/panel"
        post(admin, f"/admin/users/{carol.id}/active", {"active": "no"})
        assert "disabled" in admin.get("/admin/users").text
        assert clinician.get("/", follow_redirects=False).headers["location"] == "/signin"


def test_an_admin_cannot_touch_another_clinics_user(site: Site) -> None:
    dave = site.cast.user("other_clinician")
    with site.signed_in("admin") as admin:
        response = post(admin, f"/admin/users/{dave.id}/active", {"active": "no"})
    assert response.status_code == 404
    assert accounts.me(site.cast.db, site.cast.ctx("other_clinician")).active


def test_care_teams_are_made_and_staffed(site: Site) -> None:
    oscar = site.cast.user("outsider")
    with site.signed_in("admin") as client:
        assert post(client, "/admin/care-teams", {"name": "Team C"}).status_code == 303
        teams = careteams.list_care_teams(site.cast.db, site.cast.ctx("admin"),
                                          site.cast.ids.clinic_a)
        team_c = next(t for t in teams if t.name == "Team C")
        post(client, f"/admin/care-teams/{team_c.id}/members", {"user_id": str(oscar.id)})
        post(client, f"/admin/care-teams/{team_c.id}/patients",
             {"patient_id": str(site.cast.ids.bob)})
        page = client.get("/admin/care-teams").text
        wrong = post(client, f"/admin/care-teams/{team_c.id}/members",
                     {"user_id": str(site.cast.user("patient").id)})
    assert "Team C" in page and "Oscar" in page
    assert wrong.status_code == 422
    team_c = next(t for t in careteams.list_care_teams(
        site.cast.db, site.cast.ctx("admin"), site.cast.ids.clinic_a) if t.name == "Team C")
    assert team_c.member_ids == (oscar.id,) and team_c.patient_ids == (site.cast.ids.bob,)


def test_the_audit_log_is_searchable_and_the_search_is_audited(site: Site) -> None:
    with site.signed_in("patient"):
        pass  # alice signs in: an auth.login event
    with site.signed_in("admin") as client:
        found = post(client, "/admin/audit", {"action": "auth.login", "username": "alice"})
        assert found.status_code == 200
        assert "auth.login" in found.text and "<td>alice</td>" in found.text
        none = post(client, "/admin/audit", {"action": "auth.login", "username": "dave"})
        assert "<td>dave</td>" not in none.text  # clinic B is not searched
        bad = post(client, "/admin/audit", {"from": "yesterday"})
        assert bad.status_code == 422 and "from" in bad.text
    with site.cast.db.transaction(write=False) as session:
        assert "audit.search" in session.scalars(select(AuditEvent.action)).all()


def test_a_backup_is_made_and_listed(site: Site) -> None:
    with site.signed_in("admin") as client:
        assert "No backups yet" in client.get("/admin/backups").text
        made = post(client, "/admin/backups", {})
    if made.status_code == 422:  # PostgreSQL without pg_dump on this machine
        assert "pg_dump" in made.text
        return
    assert made.status_code == 200 and "written" in made.text
    assert list((site.settings.data_dir / "backups").iterdir())


def test_admin_pages_are_for_admins(site: Site) -> None:
    for persona in ("patient", "clinician"):
        with site.signed_in(persona) as client:
            for path in ("/admin/users", "/admin/care-teams", "/admin/audit",
                         "/admin/backups"):
                assert client.get(path).status_code == 403, (persona, path)
    with site.client() as anonymous:
        assert anonymous.get("/admin/users", follow_redirects=False).status_code == 303
