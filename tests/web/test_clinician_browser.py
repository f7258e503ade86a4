"""A clinician's morning in real Chromium: the panel shows the red flag first, a search by name
keeps its terms out of the address bar, the flagged patient's page shows the diary's proposal,
approving it makes a new plan version that shows at once, and a note with hostile text stays
text. axe-core runs on every page; screenshots land in tests/web/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from lowdose.core.diary import SideEffect
from lowdose.services import courses, notes
from lowdose.services.courses import PlanRequest
from web.conftest import Site, axe, follow, shoot, sign_in
from web.test_clinician_pages import (
    SHORT_XSS,
    STARTED,
    TODAY,
    XSS,
    diary,
    hostile,
    morning,
    versions,
)


def cards(page: Any) -> Any:
    return page.locator("ol.panel-list > li")


def test_a_clinicians_morning(page: Any, browser_site: Site) -> None:
    site = browser_site
    morning(site)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # The panel: the red flag first, then the side effects that persist
    sign_in(page, site, "clinician")
    assert page.url.endswith("/clinic/panel")
    assert cards(page).count() == 2
    assert "Red flag" in cards(page).nth(0).inner_text()
    assert "Bob" in cards(page).nth(0).inner_text()
    assert "Side effects persisting" in cards(page).nth(1).inner_text()
    axe(page)
    shoot(page, "clinician-panel")

    # A search by name: the answer, with the terms nowhere in the address
    page.get_by_label("Name contains").fill("ali")
    follow(page, page.get_by_role("button", name="Filter"))
    assert cards(page).count() == 1 and "Alice" in cards(page).nth(0).inner_text()
    assert "ali" not in page.url.lower().replace("/clinic/", "")
    axe(page)

    # The flagged patient: charts, plan, screen, outcomes and the diary's proposal
    page.get_by_role("link", name="Alice").click()
    expect(page.get_by_role("heading", name="Alice", level=1)).to_be_visible()
    main = page.locator("main")
    assert "Step back" in main.inner_text()
    assert page.locator("svg.chart").count() >= 3
    assert "Version 1 is in force" in main.inner_text()
    axe(page)
    shoot(page, "clinician-patient")

    # Approve the step change: the new plan version shows at once
    follow(page, page.get_by_role("button", name="Approve as proposed"))
    assert "Approved: the new plan version" in page.get_by_role("status").first.inner_text()
    assert "Version 2 is in force" in main.inner_text()
    assert "Version 2 (in force)" in page.locator(".plan-version").first.inner_text()
    assert [v.version for v in versions(site)] == [1, 2]
    assert versions(site)[-1].plan["steps"][0]["dose_mg"] == 3.0
    axe(page)
    shoot(page, "clinician-approved")

    # A note, hostile text and all: stored as written, shown as text, nothing runs
    page.get_by_label("New note").fill(XSS)
    follow(page, page.get_by_role("button", name="Add note"))
    shown = page.locator(".note-text").first.inner_text()
    assert shown == XSS
    assert page.locator("main img, main script").count() == 0
    assert dialogs == []
    axe(page)
    shoot(page, "clinician-note")


def test_the_patient_page_reads_on_a_wide_screen_too(page: Any, browser_site: Site) -> None:
    site = browser_site
    morning(site)
    notes.add_note(site.cast.db, site.cast.ctx("clinician", now=datetime.now(UTC)),
                   site.cast.ids.alice, "Phoned: headaches since the step up.")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, site, "clinician")
    follow(page, page.get_by_role("link", name="Alice"))
    page.get_by_text("Change it, then approve").click()
    assert page.get_by_label("Dose from today (mg)").input_value() == "3"
    axe(page)
    shoot(page, "clinician-patient-wide")


def test_hostile_text_stays_text_in_the_browser(page: Any, browser_site: Site) -> None:
    site = browser_site
    patient_id = hostile(site)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, site, "clinician")
    assert SHORT_XSS in page.locator("ol.panel-list").inner_text()
    page.goto(f"/clinic/patients/{patient_id}")
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == SHORT_XSS
    assert page.locator(".note-text").first.inner_text() == XSS
    assert page.locator("main img, main script, main b, main svg svg").count() == 0
    assert dialogs == []  # and the page fixture fails on any CSP violation
    axe(page)
    shoot(page, "clinician-hostile-text")


def test_the_clinician_pages_reflow_at_200_percent_zoom(page: Any, browser_site: Site) -> None:
    """WCAG 1.4.10: at 200 % (320 CSS px wide) nothing scrolls sideways."""
    site = browser_site
    morning(site)
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, site, "clinician")
    for path in ("/clinic/panel", f"/clinic/patients/{site.cast.ids.alice}"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, (path, width)
    axe(page)


def test_stopping_ending_and_a_refused_dose_pass_axe(page: Any, browser_site: Site) -> None:
    """The states a morning can end in: a red flag's stop-and-call (no dose to approve), an
    edited dose refused with the field named, and a course ended."""
    site = browser_site
    bob = site.cast.ids.bob
    courses.start_course(site.cast.db, site.cast.ctx("clinician", now=datetime.now(UTC)), bob,
                         started_on=STARTED, first_plan=PlanRequest(
                             from_date=STARTED, start_mg=1.5, step_mg=1.5, every_days=14,
                             target_mg=4.5))
    diary(site, "second_patient", bob, TODAY - timedelta(days=6), TODAY,
          effects=(SideEffect("jaundice", 2),))
    sign_in(page, site, "clinician")
    follow(page, page.get_by_role("link", name="Bob"))
    assert page.get_by_role("button", name="Approve as proposed").count() == 0
    assert "There is no dose to approve" in page.locator("main").inner_text()
    axe(page)
    shoot(page, "clinician-stop-and-call")

    page.get_by_label("Dose from today (mg)").fill("lots")
    follow(page, page.get_by_role("button", name="Approve with these changes"))
    assert "dose_mg" in page.get_by_role("alert").inner_text()
    axe(page)

    page.get_by_text("End this course").click()
    follow(page, page.get_by_role("button", name="End the course"))
    assert "The course is ended" in page.get_by_role("status").first.inner_text()
    axe(page)
