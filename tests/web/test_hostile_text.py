"""Hostile text in every free-text field is shown as text, inert, on every page that shows it
(issue 7 item 5). Checked in Chromium: no element, handler or script from the text reaches the
DOM, and the text itself is visible as typed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lowdose.services import accounts, careteams, patients
from web.conftest import PASSWORD, Site, sign_in
from web.seed import lived_in

# Markup that would run if it reached the page as HTML, within every field's length limit.
HOSTILE = "<img src=x onerror=__xss=1><script>__xss=2</script>\"'><svg onload=__xss=3>"

INJECTED = """() => ({
  ran: typeof window.__xss !== 'undefined',
  elements: document.querySelectorAll(
    'img[src="x"], svg[onload], main script, [onerror], [onload]').length,
})"""


def assert_inert(page: Any, path: str, *, in_field: bool = False) -> None:
    page.goto(path)
    found = page.evaluate(INJECTED)
    assert found == {"ran": False, "elements": 0}, (path, found)
    if in_field:
        values = page.evaluate("Array.from(document.querySelectorAll('input, textarea'))"
                               ".map(e => e.value)")
        assert any(HOSTILE in value for value in values), path
    else:
        assert HOSTILE in page.locator("body").inner_text(), path


def test_hostile_text_in_every_field_is_inert_on_every_page(page: Any,
                                                            browser_site: Site) -> None:
    cast = browser_site.cast
    now = datetime.now(UTC)
    # Free text a patient types: medicine, condition, note, another side effect, a procedure.
    lived_in(cast, note=HOSTILE, side_effect=HOSTILE, medicine=HOSTILE, procedure=HOSTILE)
    patients.update_profile(cast.db, cast.ctx("patient", now=now), cast.ids.alice,
                            conditions=(HOSTILE,))
    # Free text an admin types: a display name, a care team's name.
    admin = cast.ctx("admin", now=now)
    accounts.create_user(cast.db, admin, clinic_id=cast.ids.clinic_a, username="eve",
                         password=PASSWORD, role="clinician", display_name=HOSTILE)
    careteams.create_care_team(cast.db, admin, cast.ids.clinic_a, HOSTILE)

    sign_in(page, browser_site, "patient")
    for path in ("/medicines", "/screen", "/surgery", "/charts"):
        assert_inert(page, path)
    for path in ("/today", "/profile"):  # the note and the conditions, back in their fields
        assert_inert(page, path, in_field=True)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, browser_site, "admin")
    for path in ("/admin/users", "/admin/care-teams"):
        assert_inert(page, path)
    # Text typed into a search or a form is shown back as typed
    page.goto("/admin/audit")
    page.get_by_label("What", exact=False).fill(HOSTILE)
    page.get_by_role("button", name="Search").click()
    assert page.evaluate(INJECTED) == {"ran": False, "elements": 0}
    page.goto("/admin/users")
    page.get_by_label("Username").fill(HOSTILE)
    page.get_by_label("First password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    assert page.evaluate(INJECTED) == {"ran": False, "elements": 0}
    assert "Not added" in page.locator("main").inner_text()
    page.get_by_role("button", name="Sign out").click()

    # The sign-in form echoes the username
    page.get_by_label("Username").fill(HOSTILE)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.evaluate(INJECTED) == {"ran": False, "elements": 0}
    assert page.get_by_label("Username").input_value() == HOSTILE


def test_hostile_text_never_reaches_the_html_unescaped(site: Site) -> None:
    """The same without a browser: the raw HTML holds the text only escaped."""
    lived_in(site.cast, note=HOSTILE, side_effect=HOSTILE, medicine=HOSTILE,
             procedure=HOSTILE)
    with site.signed_in("patient") as client:
        for path in ("/today", "/medicines", "/screen", "/surgery", "/charts"):
            html = client.get(path).text
            assert "<img src=x" not in html and "<svg onload" not in html, path
            assert "&lt;img src=x onerror=__xss=1&gt;" in html, path
