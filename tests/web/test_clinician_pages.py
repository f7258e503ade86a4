"""The clinician's pages over real HTTP (no browser), on SQLite and PostgreSQL: the panel's
urgency order, level filter, search (in the form body, never the URL) and paging; the patient
page with its plan versions, screen, outcome summary and charts; approving the diary's proposal
as it stands or edited; notes, audited and shown inert; and nobody outside the care team in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select

from lowdose.core.diary import SideEffect
from lowdose.services import (
    careteams,
    checkins,
    courses,
    medicines,
    notes,
    patients,
    procedures,
)
from lowdose.services.checkins import CheckinInput
from lowdose.services.context import Context
from lowdose.services.courses import PlanRequest
from lowdose.store.models import AuditEvent, ClinicianNote
from web.conftest import Site
from web.test_patient_pages import post

TODAY = datetime.now(UTC).date()
XSS = ('<script>alert("x")</script><img src=x onerror=alert(1)>'
       '"><svg onload=alert(2)> javascript:alert(3) {{ 7*7 }}')
SHORT_XSS = '<img src=x onerror=alert(4)>"><b>bold</b>'
RAW_MARKUP = ("<script>alert", "<img src=x", "<svg onload", "<b>bold</b>")


def now_ctx(site: Site, persona: str) -> Context:
    """`persona`'s context at the real clock (the pages run on it, not the cast's NOW)."""
    return site.cast.ctx(persona, now=datetime.now(UTC))


def diary(site: Site, persona: str, patient_id: int, first: date, last: date, *,
          pain: int = 5, effects: tuple[SideEffect, ...] = (),
          dose_mg: float | None = 1.5) -> None:
    """A check-in every day from `first` to `last` (no dose taken when `dose_mg` is None)."""
    day = first
    while day <= last:
        checkins.record_checkin(site.cast.db, now_ctx(site, persona), patient_id, CheckinInput(
            date=day, dose_taken=dose_mg is not None, dose_mg=dose_mg,
            dose_time=time(22, 0) if dose_mg else None, ratings={"pain": pain, "sleep": 6},
            side_effects=effects))
        day += timedelta(days=1)


STARTED = TODAY - timedelta(days=44)


def morning(site: Site) -> None:
    """Carol's morning: Bob reports jaundice (a red flag); Alice, six weeks into LDN with less
    pain than before it, has had headaches every day since her last step up to 4.5 mg (side
    effects persisting), so the diary proposes stepping back."""
    alice, day = site.cast.ids.alice, timedelta(days=1)
    courses.start_course(site.cast.db, now_ctx(site, "clinician"), alice,
                         started_on=STARTED, indication="fibromyalgia",
                         first_plan=PlanRequest(from_date=STARTED, start_mg=1.5, step_mg=1.5,
                                                every_days=14, target_mg=4.5))
    diary(site, "patient", alice, STARTED - 10 * day, STARTED - day, pain=7, dose_mg=None)
    diary(site, "patient", alice, STARTED, STARTED + 13 * day, pain=6, dose_mg=1.5)
    diary(site, "patient", alice, STARTED + 14 * day, STARTED + 27 * day, pain=5, dose_mg=3.0)
    diary(site, "patient", alice, STARTED + 28 * day, TODAY, pain=4, dose_mg=4.5,
          effects=(SideEffect("headache", 2),))
    diary(site, "second_patient", site.cast.ids.bob, TODAY - day, TODAY,
          effects=(SideEffect("jaundice", 2),))


def names_in_order(html: str) -> list[str]:
    return re.findall(r'<a href="/clinic/patients/\d+">([^<]+)</a>', html)


def add_patients(site: Site, count: int, prefix: str = "Walker") -> list[int]:
    """`count` more patients on care team A, with no diary."""
    admin = now_ctx(site, "admin")
    made = []
    for n in range(count):
        made.append(patients.create_patient(site.cast.db, admin, clinic_id=site.cast.ids.clinic_a,
                                            display_name=f"{prefix} {n:02d}",
                                            synthetic=True).id)
        careteams.assign_patient(site.cast.db, admin, site.cast.ids.team_a, made[-1])
    return made


def versions(site: Site) -> list[courses.PlanVersionView]:
    ctx = now_ctx(site, "clinician")
    course = courses.list_courses(site.cast.db, ctx, site.cast.ids.alice)[-1]
    return courses.plan_versions(site.cast.db, ctx, site.cast.ids.alice, course.id)


# ------------------------------------------------------------------------------ panel


def test_the_panel_puts_the_red_flag_first_then_persisting_side_effects(site: Site) -> None:
    morning(site)
    with site.signed_in("clinician") as client:
        page = client.get("/clinic/panel")
    assert page.status_code == 200
    assert names_in_order(page.text) == ["Bob", "Alice"]  # Erin is clinic B's
    bob, alice = page.text.split('data-group="')[1:3]
    assert bob.startswith("red-flag") and "Red flag" in bob and "aundice" in bob
    assert alice.startswith("side-effects") and "Side effects persisting" in alice
    assert "Patients 1–2 of 2" in page.text


def test_the_page_follows_the_whole_urgency_order(site: Site) -> None:
    morning(site)
    stepping, silent, operated = add_patients(site, 3, prefix="Order")
    clinician, day = now_ctx(site, "clinician"), timedelta(days=1)
    courses.start_course(site.cast.db, clinician, stepping, started_on=TODAY - 10 * day,
                         first_plan=PlanRequest(from_date=TODAY - 10 * day, start_mg=1.5,
                                                step_mg=1.5, every_days=7, target_mg=4.5))
    diary(site, "clinician", stepping, TODAY - 9 * day, TODAY)  # still at 1.5 mg: step due
    diary(site, "clinician", operated, TODAY - 2 * day, TODAY)
    procedures.add_procedure(site.cast.db, clinician, operated, name="knee scope",
                             at=datetime.combine(TODAY + 6 * day, time(8)))
    with site.signed_in("clinician") as client:
        page = client.get("/clinic/panel").text
    assert re.findall(r'data-group="([a-z-]+)"', page) == [
        "red-flag", "side-effects", "step-due", "checkin-overdue", "surgery-coming"]
    assert names_in_order(page) == ["Bob", "Alice", "Order 00", "Order 01", "Order 02"]
    assert silent and "Surgery coming" in page and "Dose step due" in page
    assert "The plan moves to 3 mg" in page and "held for 72 hours" in page


def test_the_level_filter_keeps_only_the_urgent(site: Site) -> None:
    morning(site)
    with site.signed_in("clinician") as client:
        urgent = client.get("/clinic/panel", params={"level": "urgent"})
        attention = post(client, "/clinic/panel", {"level": "attention", "q": ""})
    assert names_in_order(urgent.text) == ["Bob"]
    assert names_in_order(attention.text) == ["Bob", "Alice"]
    assert '<option value="urgent" selected>' in urgent.text


def test_a_search_travels_in_the_form_body_and_never_in_a_link(site: Site) -> None:
    morning(site)
    add_patients(site, 30, prefix="Ali Walker")
    with site.signed_in("clinician") as client:
        found = post(client, "/clinic/panel", {"q": "ALI", "level": ""})
        second = post(client, "/clinic/panel", {"q": "ali", "level": "", "page": "1"})
        ignored = client.get("/clinic/panel", params={"q": "Bob"})
    first_names, second_names = names_in_order(found.text), names_in_order(second.text)
    assert len(first_names) == 25 and len(second_names) == 6
    assert set(first_names) | set(second_names) == {"Alice"} | {
        f"Ali Walker {n:02d}" for n in range(30)}
    assert "Bob" not in first_names + second_names
    # Paging a search is a form that carries the terms; no address on the page holds them.
    assert 'name="q" value="ALI"' in found.text and "Next page" in found.text
    assert not re.search(r'href="[^"]*(q=|ALI|ali)', found.text, flags=re.IGNORECASE)
    assert "Bob" in names_in_order(ignored.text)  # a q in the URL is not a search


def test_the_panel_pages_through_every_patient_once(site: Site) -> None:
    morning(site)
    add_patients(site, 30)
    seen: list[str] = []
    with site.signed_in("clinician") as client:
        first = client.get("/clinic/panel")
        assert "Patients 1–25 of 32" in first.text and "Page 1 of 2" in first.text
        seen += names_in_order(first.text)
        following = re.search(r'href="(/clinic/panel\?level=&amp;page=1)"', first.text)
        assert following is not None
        second = client.get(following.group(1).replace("&amp;", "&"))
        assert "Patients 26–32 of 32" in second.text and "Previous page" in second.text
        seen += names_in_order(second.text)
        beyond = client.get("/clinic/panel", params={"page": "9"})
    assert seen[:2] == ["Bob", "Alice"]
    assert sorted(seen) == sorted(["Alice", "Bob"] + [f"Walker {n:02d}" for n in range(30)])
    assert names_in_order(beyond.text) == [] and "No patients match" not in beyond.text


@pytest.mark.parametrize(("how", "values", "field"), [
    ("get", {"level": "severe"}, "level"),
    ("get", {"page": "two"}, "page"),
    ("get", {"page": "-1"}, "page"),
    ("get", {"page": "9" * 400}, "page"),
    ("post", {"q": "x" * 101}, "q"),
])
def test_bad_filters_name_the_field(site: Site, how: str, values: dict[str, str],
                                    field: str) -> None:
    with site.signed_in("clinician") as client:
        response = (client.get("/clinic/panel", params=values) if how == "get"
                    else post(client, "/clinic/panel", values))
    assert response.status_code == 422
    assert f"Please check <strong>{field}</strong>" in response.text


# ----------------------------------------------------------------------- patient page


def test_the_patient_page_shows_charts_plan_screen_outcomes_and_proposal(site: Site) -> None:
    morning(site)
    with site.signed_in("clinician") as client:
        page = client.get(f"/clinic/patients/{site.cast.ids.alice}").text
    assert "<h1>Alice</h1>" in page
    assert "side-effect-persisting" not in page and "headache" in page.lower()
    assert page.count('<svg class="chart"') >= 3  # pain, sleep, the headache's course
    assert "Headache against its expected course" in page
    assert "Version 1 is in force" in page and "first plan" in page
    assert "Safety screen:" in page
    assert "Is it working?" in page and "90 % interval" in page
    assert "The diary&#39;s proposal" in page or "The diary's proposal" in page
    assert "Approve as proposed" in page


def test_approving_the_proposal_makes_a_new_plan_version_from_today(site: Site) -> None:
    morning(site)
    proposal = courses.next_step_proposal(site.cast.db, now_ctx(site, "clinician"),
                                          site.cast.ids.alice)
    assert proposal is not None and proposal.may_approve
    with site.signed_in("clinician") as client:
        done = post(client, f"/clinic/patients/{site.cast.ids.alice}/approve",
                    {"plan_version": "1"})
        assert done.status_code == 303
        page = client.get(done.headers["location"]).text
        again = post(client, f"/clinic/patients/{site.cast.ids.alice}/approve",
                     {"plan_version": "1"})  # the same form sent twice
    made = versions(site)
    assert [v.version for v in made] == [1, 2]
    assert made[-1].request.from_date == TODAY
    assert made[-1].plan["steps"][0]["dose_mg"] == proposal.decision.dose_mg
    assert "Approved: the new plan version" in page and "Version 2 is in force" in page
    assert "<strong>Version 2</strong> (in force)" in page and "Approved the diary" in page
    # The charts keep the doses before the change: version 1's steps, then version 2's.
    stepped_up = STARTED + timedelta(days=28)
    assert f"4.5 mg from {stepped_up:%-d %b}, 3 mg from {TODAY:%-d %b}" in page
    assert again.status_code == 409 and "changed since it was shown" in again.text


def test_a_clinician_edits_the_proposal_before_approving_it(site: Site) -> None:
    morning(site)
    with site.signed_in("clinician") as client:
        done = post(client, f"/clinic/patients/{site.cast.ids.alice}/approve",
                    {"plan_version": "1", "dose_mg": "2", "timing": "morning",
                     "note": "Discussed by phone."})
        bad = post(client, f"/clinic/patients/{site.cast.ids.alice}/approve",
                   {"plan_version": "2", "dose_mg": "lots"})
    assert done.status_code == 303
    newest = versions(site)[-1]
    assert newest.version == 2 and newest.plan["steps"][0]["dose_mg"] == 2.0
    assert newest.request.timing == "morning"
    assert newest.reason is not None and "after changing it to 2 mg, at morning" in newest.reason
    assert "Discussed by phone." in newest.reason
    assert bad.status_code == 422 and "<strong>dose_mg</strong>" in bad.text
    assert len(versions(site)) == 2


def test_stop_and_call_offers_no_dose_to_approve_and_the_course_can_be_ended(
        site: Site) -> None:
    bob, clinician = site.cast.ids.bob, now_ctx(site, "clinician")
    course = courses.start_course(site.cast.db, clinician, bob, started_on=STARTED,
                                  first_plan=PlanRequest(from_date=STARTED, start_mg=1.5,
                                                         step_mg=1.5, every_days=14,
                                                         target_mg=4.5)).id
    diary(site, "second_patient", bob, TODAY - timedelta(days=6), TODAY,
          effects=(SideEffect("jaundice", 2),))
    with site.signed_in("clinician") as client:
        page = client.get(f"/clinic/patients/{bob}").text
        as_proposed = post(client, f"/clinic/patients/{bob}/approve", {"plan_version": "1"})
        bad_day = post(client, f"/clinic/patients/{bob}/courses/{course}/end",
                       {"ended_on": "soon"})
        ended = post(client, f"/clinic/patients/{bob}/courses/{course}/end",
                     {"ended_on": TODAY.isoformat()})
        after = client.get(ended.headers["location"]).text
    assert "Stop and call the patient" in page and "Approve as proposed" not in page
    assert "There is no dose to approve" in page and "End the course" in page
    assert as_proposed.status_code == 409 and "end the course" in as_proposed.text
    assert bad_day.status_code == 422 and "<strong>ended_on</strong>" in bad_day.text
    assert ended.status_code == 303 and "The course is ended" in after
    assert f"Course from {STARTED.isoformat()} to {TODAY.isoformat()}" in after
    assert "End the course" not in after
    assert courses.list_courses(site.cast.db, clinician, bob)[-1].ended_on == TODAY


# ------------------------------------------------------------------------------ notes


def test_notes_are_kept_shown_inert_and_audited(site: Site) -> None:
    with site.signed_in("clinician") as client:
        added = post(client, f"/clinic/patients/{site.cast.ids.alice}/notes",
                     {"note": XSS + "\nsecond line"})
        assert added.status_code == 303
        page = client.get(added.headers["location"]).text
        empty = post(client, f"/clinic/patients/{site.cast.ids.alice}/notes", {"note": "  "})
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and "<br>second line" in page
    assert "Carol" in page  # the author
    assert empty.status_code == 422 and "<strong>note</strong>" in empty.text
    stored = notes.list_notes(site.cast.db, now_ctx(site, "clinician"), site.cast.ids.alice)
    assert [n.text for n in stored] == [XSS + "\nsecond line"]
    with site.cast.db.transaction(write=False) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action.in_(("note.add", "note.list")))).all()
    assert {e.action for e in events} == {"note.add", "note.list"}
    assert all(e.patient_id == site.cast.ids.alice for e in events)
    assert all("script" not in (e.target or "") for e in events)


def hostile(site: Site) -> int:
    """A patient whose every free-text field holds markup: name, medicine, indication, side
    effect, the reason of an approved plan version (the clinician's note on it), a note."""
    clinician, admin, day = now_ctx(site, "clinician"), now_ctx(site, "admin"), timedelta(1)
    pid = patients.create_patient(site.cast.db, admin, clinic_id=site.cast.ids.clinic_a,
                                  display_name=SHORT_XSS, synthetic=True).id
    careteams.assign_patient(site.cast.db, admin, site.cast.ids.team_a, pid)
    medicines.add_medicine(site.cast.db, clinician, pid, text=XSS)
    courses.start_course(site.cast.db, clinician, pid, started_on=STARTED, indication=SHORT_XSS,
                         first_plan=PlanRequest(from_date=STARTED, start_mg=1.5, step_mg=1.5,
                                                every_days=14, target_mg=4.5))
    diary(site, "clinician", pid, STARTED, TODAY - day, effects=(SideEffect(SHORT_XSS, 2),))
    courses.approve_next_step(site.cast.db, now_ctx(site, "clinician"), pid,
                              edits=courses.StepEdits(dose_mg=1.5, note=XSS))
    notes.add_note(site.cast.db, clinician, pid, XSS)
    return pid


def test_hostile_text_in_every_field_is_shown_as_text(site: Site) -> None:
    pid = hostile(site)
    with site.signed_in("clinician") as client:
        pages = {"panel": client.get("/clinic/panel").text,
                 "search": post(client, "/clinic/panel", {"q": "<img"}).text,
                 "patient": client.get(f"/clinic/patients/{pid}").text}
    for name, html in pages.items():
        assert not any(raw in html for raw in RAW_MARKUP), name
        assert "&lt;img src=x onerror=alert(4)&gt;&#34;&gt;&lt;b&gt;bold&lt;/b&gt;" in html, name
    patient = pages["patient"]
    assert patient.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 3  # screen,
    # the version's reason and the note


# ----------------------------------------------------------------------------- access


def pages_for(site: Site) -> list[tuple[str, str, dict[str, str]]]:
    alice = site.cast.ids.alice
    return [("get", f"/clinic/patients/{alice}", {}),
            ("post", f"/clinic/patients/{alice}/approve", {"plan_version": "1"}),
            ("post", f"/clinic/patients/{alice}/notes", {"note": "let me in"}),
            ("post", f"/clinic/patients/{alice}/courses/1/end", {"ended_on": "2025-06-02"})]


def call(client: httpx.Client, how: str, path: str, data: dict[str, str]) -> httpx.Response:
    return client.get(path) if how == "get" else post(client, path, data)


@pytest.mark.parametrize(("persona", "status"), [
    ("other_clinician", 404),  # another clinic: may not know Alice exists
    ("outsider", 404),  # same clinic, not on her care team
    ("admin", 403),  # the clinic's admin knows who she is, may not read her record
    ("patient", 403),  # Alice herself: her own pages are elsewhere
])
def test_nobody_off_the_care_team_gets_in(site: Site, persona: str, status: int) -> None:
    morning(site)
    with site.signed_in(persona) as client:
        for how, path, data in pages_for(site):
            response = call(client, how, path, data)
            assert response.status_code == status, (persona, path)
            assert "Alice" not in response.text.split("<main", 1)[1]
    assert len(versions(site)) == 1
    assert courses.list_courses(site.cast.db, now_ctx(site, "clinician"),
                                site.cast.ids.alice)[-1].ended_on is None
    with site.cast.db.transaction(write=False) as session:
        assert session.scalars(select(ClinicianNote)).all() == []


def test_a_clinician_of_another_clinic_sees_only_their_own_panel(site: Site) -> None:
    morning(site)
    with site.signed_in("other_clinician") as client:
        assert names_in_order(client.get("/clinic/panel").text) == ["Erin"]
    with site.signed_in("patient") as client:
        assert client.get("/clinic/panel").status_code == 403
    with site.client() as anonymous:
        response = anonymous.get("/clinic/panel", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")


def test_an_admin_on_the_care_team_reads_the_page_but_cannot_approve(site: Site) -> None:
    morning(site)
    with site.signed_in("team_admin") as client:
        page = client.get(f"/clinic/patients/{site.cast.ids.alice}")
        approve = post(client, f"/clinic/patients/{site.cast.ids.alice}/approve",
                       {"plan_version": "1"})
    assert page.status_code == 200 and "Approve as proposed" not in page.text
    assert approve.status_code == 403 and len(versions(site)) == 1


def test_an_id_beyond_any_record_is_not_found(site: Site) -> None:
    with site.signed_in("clinician") as client:
        for path in ("/clinic/patients/" + "9" * 400, "/clinic/patients/0",
                     "/clinic/patients/x"):
            assert client.get(path).status_code == 404, path
        assert post(client, "/clinic/patients/" + "9" * 40 + "/notes",
                    {"note": "x"}).status_code == 404


def test_a_record_with_nothing_in_it_yet_still_reads(site: Site) -> None:
    with site.signed_in("clinician") as client:
        page = client.get(f"/clinic/patients/{site.cast.ids.bob}")
    assert page.status_code == 200
    assert "No LDN course is recorded" in page.text and "No check-in in the last" in page.text
    assert "the diary has nothing to propose" in page.text and "No notes yet" in page.text


def test_an_admin_sees_who_is_on_the_panel_but_no_clinical_detail(site: Site) -> None:
    morning(site)
    with site.signed_in("admin") as client:
        page = client.get("/clinic/panel").text
    assert sorted(names_in_order(page)) == ["Alice", "Bob"]
    assert page.count("you may see who this is, not their record") == 2
    assert "aundice" not in page and "Headache" not in page
