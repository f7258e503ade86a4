"""The patient's pages over real HTTP (no browser), on SQLite and PostgreSQL: each reads and
keeps the signed-in patient's own record through the services, and bad input is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lowdose.services import checkins, courses, medicines, procedures
from lowdose.services.context import Context
from lowdose.services.courses import PlanRequest
from web.conftest import Site, csrf_of

TODAY = datetime.now(UTC).date()


def now_ctx(site: Site, persona: str) -> Context:
    """`persona`'s context at the real clock (the pages run on it, not the cast's NOW)."""
    return site.cast.ctx(persona, now=datetime.now(UTC))


def post(client, path: str, data: dict[str, str], **kwargs):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/offline").text)
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def start_plan(site: Site, protocol: str = "dartmouth-weekly", liquid: float | None = None
               ) -> None:
    """Carol, the clinician on Alice's care team, starts her course today."""
    courses.start_course(site.cast.db, now_ctx(site, "clinician"), site.cast.ids.alice,
                         started_on=TODAY, first_plan=PlanRequest(
                             from_date=TODAY, protocol=protocol, liquid_mg_per_ml=liquid))


def test_profile_is_saved_and_leads_to_the_medicines(site: Site) -> None:
    with site.signed_in("patient") as client:
        response = post(client, "/profile", {
            "birth_date": "1972-03-14", "sex": "female", "weight_kg": "70",
            "pregnant": "no", "breastfeeding": "", "conditions": "fibromyalgia\nlong COVID"})
        assert response.status_code == 303 and response.headers["location"] == "/medicines"
        page = client.get("/profile").text
    assert 'value="1972-03-14"' in page and "fibromyalgia\nlong COVID" in page


def test_a_bad_profile_names_the_field_and_stores_nothing(site: Site) -> None:
    with site.signed_in("patient") as client:
        response = post(client, "/profile", {"birth_date": "1972-03-14",
                                             "weight_kg": "heavy", "conditions": ""})
        assert response.status_code == 422
        assert "weight_kg" in response.text
        assert 'value="1972-03-14"' not in client.get("/profile").text


def test_medicines_are_added_stopped_and_removed(site: Site) -> None:
    with site.signed_in("patient") as client:
        assert post(client, "/medicines", {"text": "Norco 5/325 mg every 6 h",
                                           "last_taken": "2025-06-01"}).status_code == 303
        listed = medicines.list_medicines(site.cast.db, now_ctx(site, "patient"),
                                          site.cast.ids.alice)
        assert [m.text for m in listed] == ["Norco 5/325 mg every 6 h"]
        assert "Norco 5/325 mg every 6 h" in client.get("/medicines").text
        post(client, f"/medicines/{listed[0].id}/stop", {})
        assert "stopped" in client.get("/medicines").text
        post(client, f"/medicines/{listed[0].id}/remove", {})
        assert "<td>Norco 5/325 mg every 6 h</td>" not in client.get("/medicines").text
        assert post(client, "/medicines", {"text": ""}).status_code == 422


def test_the_screen_explains_an_opioid_in_plain_words_with_sources(site: Site) -> None:
    with site.signed_in("patient") as client:
        post(client, "/medicines", {"text": "Norco 5/325 mg every 6 h as needed",
                                    "last_taken": TODAY.isoformat()})
        page = client.get("/screen").text
    assert "LDN must not be started now" in page
    assert "hydrocodone" in page.lower()
    assert "Naltrexone hydrochloride tablets" in page  # the label's citation, from sources


def test_without_a_plan_the_patient_can_preview_presets(site: Site) -> None:
    with site.signed_in("patient") as client:
        page = client.get("/plan").text
        assert "You have no plan yet" in page
        preview = post(client, "/plan/preview", {"protocol": "dartmouth-weekly"})
        assert preview.status_code == 200
        assert "an example, not your plan" in preview.text and "4.5 mg" in preview.text
        assert post(client, "/plan/preview", {"protocol": "nonsense"}).status_code == 422


def test_the_plan_is_a_timeline_with_the_current_step(site: Site) -> None:
    start_plan(site)
    with site.signed_in("patient") as client:
        page = client.get("/plan").text
    assert 'aria-current="step"' in page and "1.5 mg" in page and "onwards" in page


def test_today_shows_tonights_dose_in_mg_and_ml_for_a_liquid(site: Site) -> None:
    start_plan(site, liquid=1.0)
    with site.signed_in("patient") as client:
        page = client.get("/today").text
    assert "1.5 mg = 1.5 mL" in page


def test_a_check_in_from_the_form_is_stored(site: Site) -> None:
    with site.signed_in("patient") as client:
        response = post(client, f"/patients/{site.cast.ids.alice}/checkin", {
            "date": TODAY.isoformat(), "dose_taken": "yes", "dose_mg": "1.5",
            "dose_time": "22:05", "rating_pain": "6", "rating_sleep": "7",
            "effect_vivid dreams": "1", "other_side_effect": "", "note": "slept well"})
        assert response.status_code == 303
        assert "Change today's check-in" in client.get("/today").text
    stored = checkins.list_checkins(site.cast.db, now_ctx(site, "patient"), site.cast.ids.alice)
    assert stored[0].ratings == {"pain": 6, "sleep": 7}
    assert [(s.name, s.severity) for s in stored[0].side_effects] == [("vivid dreams", 1)]
    assert stored[0].note == "slept well"


def test_a_json_check_in_with_a_key_is_stored_once(site: Site) -> None:
    body = {"date": TODAY.isoformat(), "dose_taken": True, "ratings": {"pain": 5}}
    with site.signed_in("patient") as client:
        token = csrf_of(client.get("/offline").text)
        headers = {"X-CSRF-Token": token, "Idempotency-Key": "k-123"}
        url = f"/patients/{site.cast.ids.alice}/checkin"
        first = client.post(url, json=body, headers=headers)
        again = client.post(url, json=body, headers=headers)
        bad = client.post(url, json={**body, "ratings": {"pain": 11}},
                          headers={**headers, "Idempotency-Key": "k-124"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replayed"] is True
    assert bad.status_code == 422 and bad.json()["field"].startswith("ratings")
    history = checkins.checkin_history(site.cast.db, now_ctx(site, "patient"),
                                       site.cast.ids.alice, TODAY)
    assert len(history) == 1


def test_a_json_check_in_without_the_csrf_header_is_refused(site: Site) -> None:
    with site.signed_in("patient") as client:
        response = client.post(f"/patients/{site.cast.ids.alice}/checkin",
                               json={"date": TODAY.isoformat()})
    assert response.status_code == 403
    assert checkins.list_checkins(site.cast.db, now_ctx(site, "patient"),
                                  site.cast.ids.alice) == []


def test_a_patient_cannot_check_in_for_someone_else(site: Site) -> None:
    with site.signed_in("patient") as client:
        response = post(client, f"/patients/{site.cast.ids.bob}/checkin",
                        {"date": TODAY.isoformat(), "dose_taken": "yes"})
    assert response.status_code in (403, 404)
    assert checkins.list_checkins(site.cast.db, now_ctx(site, "second_patient"),
                                  site.cast.ids.bob) == []


def test_patient_pages_are_for_patients(site: Site) -> None:
    with site.signed_in("clinician") as client:
        for path in ("/today", "/profile", "/medicines", "/screen", "/plan"):
            assert client.get(path).status_code == 403, path


def week_of_checkins(site: Site, days: int = 10) -> None:
    """Alice's diary: a rating a day, vivid dreams in the first days."""
    from datetime import timedelta

    for back in range(days):
        day = TODAY - timedelta(days=back)
        entry = checkins.CheckinInput.from_dict({
            "date": day.isoformat(), "dose_taken": True, "dose_mg": 1.5,
            "ratings": {"pain": 6 - back % 3, "sleep": 7},
            "side_effects": [{"name": "vivid dreams", "severity": 1 + back % 2}]})
        checkins.record_checkin(site.cast.db, now_ctx(site, "patient"), site.cast.ids.alice,
                                entry)


def test_charts_draw_each_measure_and_side_effect_as_svg(site: Site) -> None:
    start_plan(site)
    week_of_checkins(site)
    with site.signed_in("patient") as client:
        page = client.get("/charts").text
    assert page.count('<svg class="chart"') == 3  # pain, sleep, vivid dreams
    assert 'class="dose"' in page and 'class="expected"' in page
    assert "<title" in page and "<desc" in page


def test_charts_without_a_diary_say_what_to_do(site: Site) -> None:
    with site.signed_in("patient") as client:
        assert "Check in today" in client.get("/charts").text


def test_outcomes_without_a_course_explain_what_is_missing(site: Site) -> None:
    with site.signed_in("patient") as client:
        page = client.get("/outcomes")
    assert page.status_code == 200
    assert "Nothing to compare yet" in page.text


def test_supply_works_out_the_refill_date_of_a_liquid(site: Site) -> None:
    start_plan(site, liquid=1.0)
    with site.signed_in("patient") as client:
        page = client.get("/supply").text
        assert 'value="1.5"' in page and 'value="1"' in page  # from tonight's dose
        result = post(client, "/supply", {"form": "liquid", "dose_mg": "1.5",
                                          "mg_per_ml": "1", "quantity": "60",
                                          "start": "2025-06-02"})
        bad = post(client, "/supply", {"form": "liquid", "dose_mg": "lots",
                                       "quantity": "60", "start": "2025-06-02"})
    assert result.status_code == 200
    assert "2025-06-25" in result.text and "40 days" in result.text
    assert bad.status_code == 422 and "dose_mg" in bad.text


def test_surgery_gives_the_last_dose_and_a_note_for_the_team(site: Site) -> None:
    start_plan(site)
    with site.signed_in("patient") as client:
        when = (TODAY + timedelta(days=10)).isoformat() + "T08:00"
        added = post(client, "/surgery", {"name": "knee replacement", "at": when,
                                          "opioids_expected": "yes"})
        assert added.status_code == 303
        page = client.get("/surgery").text
        assert "knee replacement" in page and "Note for the surgical team" in page
        last_day = (TODAY + timedelta(days=6)).isoformat()
        assert f"{last_day} 22:00" in page  # 72 h before 08:00, at the plan's dose time
        missing = post(client, "/surgery", {"name": "knee", "at": ""})
        assert missing.status_code == 422 and "at" in missing.text
        planned = procedures.list_procedures(site.cast.db, now_ctx(site, "patient"),
                                             site.cast.ids.alice)
        post(client, f"/surgery/{planned[0].id}/cancel", {})
        assert "No surgery planned" in client.get("/surgery").text


def test_a_due_questionnaire_is_answered_and_scored(site: Site) -> None:
    with site.signed_in("patient") as client:
        listed = client.get("/questionnaires").text
        assert "PHQ-9" in listed and "Answer now" in listed
        form = client.get("/questionnaires/phq9").text
        assert "Little interest or pleasure" in form
        answers = {f"item_{n}": "1" for n in range(1, 10)}
        incomplete = post(client, "/questionnaires/phq9", {**answers, "item_9": ""})
        assert incomplete.status_code == 422
        done = post(client, "/questionnaires/phq9", answers)
        assert done.status_code == 200 and "score 9" in done.text
        after = client.get("/questionnaires").text
    assert "Next due" in after
    assert client_status(site, "/questionnaires/nonsense") == 404


def client_status(site: Site, path: str) -> int:
    with site.signed_in("patient") as client:
        return client.get(path).status_code


def test_the_outcome_page_shows_the_analysis_numbers_with_their_interval(site: Site) -> None:
    from lowdose.services import outcomes
    from web.seed import lived_in

    lived_in(site.cast)
    report = outcomes.analyze_patient(site.cast.db, now_ctx(site, "patient"),
                                      site.cast.ids.alice).to_dict()
    pain = next(m for m in report["measures"] if m["measure"] == "pain")
    effect = pain["effect"]
    with site.signed_in("patient") as client:
        page = client.get("/outcomes").text
    assert (f"{effect['estimate']:+.1f} points (90 % interval "
            f"{effect['interval']['low']:+.1f} to {effect['interval']['high']:+.1f})") in page
    assert f"{round(effect['p_mid_improvement'] * 100)} %" in page
    assert report["caveat"] in page


def test_today_points_to_questionnaires_when_due(site: Site) -> None:
    start_plan(site)
    with site.signed_in("patient") as client:
        page = client.get("/today").text
        assert "Questionnaires due" in page and 'href="/questionnaires/phq9"' in page
        post(client, "/questionnaires/phq9", {f"item_{n}": "0" for n in range(1, 10)})
        assert 'href="/questionnaires/phq9"' not in client.get("/today").text
