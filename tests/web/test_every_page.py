"""Every page in real Chromium: axe-core finds no serious or critical violation, each is
usable from the keyboard (a skip link to the main landmark), none needs inline script or
style (the CSP would refuse it), and screenshots of each are written. Also: an admin adds a
clinician through the pages, and the app installs (manifest, service worker, offline page)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from web.conftest import PASSWORD, Site, axe, shoot, sign_in
from web.seed import lived_in

PATIENT_PAGES = ("/today", "/profile", "/medicines", "/screen", "/plan", "/charts",
                 "/outcomes", "/supply", "/surgery", "/questionnaires",
                 "/questionnaires/phq9", "/account", "/calendar")
ADMIN_PAGES = ("/admin/users", "/admin/care-teams", "/admin/audit", "/admin/backups")


def visit(page: Any, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and
                                                              response.status)
    axe(page)
    shoot(page, path.strip("/").replace("/", "-") or "front")


def test_every_patient_page_passes_axe(page: Any, browser_site: Site) -> None:
    lived_in(browser_site.cast)
    sign_in(page, browser_site, "patient")
    for path in PATIENT_PAGES:
        visit(page, path)
    # Pages reached by a form
    page.goto("/supply")
    page.get_by_label("Amount dispensed", exact=False).fill("60")
    page.get_by_role("button", name="Work it out").click()
    expect(page.locator("main")).to_contain_text("Order more by")
    axe(page)
    page.goto("/questionnaires/phq9")
    for index in range(9):
        page.get_by_role("group").nth(index).get_by_label("Not at all").check()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("h1")).to_contain_text("Thank you")
    axe(page)
    page.goto("/questionnaires/none-such")
    axe(page)  # the error page


def test_the_outcome_summary_shows_the_change_with_its_interval(page: Any,
                                                                 browser_site: Site) -> None:
    lived_in(browser_site.cast)
    sign_in(page, browser_site, "patient")
    page.goto("/outcomes")
    text = page.locator("main").inner_text()
    assert "90 % interval" in text and "Chance of a change that matters" in text
    expect(page.get_by_role("img", name="Pain: change since LDN")).to_be_visible()


def test_every_admin_page_passes_axe(page: Any, browser_site: Site) -> None:
    sign_in(page, browser_site, "admin")
    for path in ADMIN_PAGES:
        visit(page, path)
    page.goto("/admin/audit")
    page.get_by_label("What", exact=False).fill("auth")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr").first).to_be_visible()
    axe(page)


@pytest.mark.parametrize("path", ["/signin", "/offline"])
def test_public_pages_pass_axe_and_start_with_a_skip_link(page: Any, browser_site: Site,
                                                          path: str) -> None:
    visit(page, path)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pages_reflow_at_200_percent_zoom(page: Any, browser_site: Site) -> None:
    """WCAG 1.4.4/1.4.10: at 200 % (a 640 px window seen as 320 CSS px) nothing scrolls
    sideways except wide tables, which scroll inside their own box."""
    lived_in(browser_site.cast)
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in(page, browser_site, "patient")
    for path in ("/today", "/charts", "/outcomes", "/medicines"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, (path, width)


def test_an_admin_adds_a_clinician_and_puts_her_on_a_team(page: Any,
                                                          browser_site: Site) -> None:
    sign_in(page, browser_site, "admin")
    page.goto("/admin/users")
    page.get_by_label("Name", exact=True).fill("Dr Nina Okafor")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Role").select_option("clinician")
    page.get_by_label("First password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("main .success")).to_contain_text("Added nina as clinician")
    shoot(page, "admin-added-clinician")
    page.get_by_role("link", name="Care teams").click()
    page.get_by_label("Add a member").first.select_option(label="Dr Nina Okafor (clinician)")
    page.get_by_role("button", name="Add member to Team A").click()
    team = page.get_by_role("region", name="Team A")
    expect(team).to_contain_text("Dr Nina Okafor")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/clinic/panel")


def test_the_app_installs_and_opens_offline(page: Any, browser_site: Site) -> None:
    sign_in(page, browser_site, "patient")
    manifest = page.evaluate("fetch('/manifest.webmanifest').then(r => r.json())")
    assert manifest["start_url"] == "/today" and manifest["display"] == "standalone"
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.reload()  # now controlled by the service worker
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.goto("/charts")
    assert "You are offline" in page.locator("h1").inner_text()
    page.context.set_offline(False)
