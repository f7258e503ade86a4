"""A patient's first week in real Chromium: onboarding (profile, medicines, the screen, the
plan), daily check-ins, one made offline that is sent once when the connection returns, one
whose answer was lost that is not stored twice, and the charts. axe runs on every page on
the way; screenshots of the key pages land in tests/web/screenshots/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from lowdose.services import checkins, courses
from lowdose.services.courses import PlanRequest
from web.conftest import Site, axe, shoot, sign_in

TODAY = datetime.now(UTC).date()


def stored(site: Site) -> list[checkins.CheckinView]:
    ctx = site.cast.ctx("patient", now=datetime.now(UTC))
    return checkins.list_checkins(site.cast.db, ctx, site.cast.ids.alice)


def versions(site: Site, day: date) -> int:
    ctx = site.cast.ctx("patient", now=datetime.now(UTC))
    return len(checkins.checkin_history(site.cast.db, ctx, site.cast.ids.alice, day))


def check_in(page: Any, day: date, pain: int, dreams: str = "", note: str = "") -> None:
    """The 30-second check-in: the day, dose taken (pre-filled), two ratings, a side effect."""
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_role("spinbutton", name="how bad was your pain").fill(str(pain))
    page.get_by_role("spinbutton", name="sleep").fill("7")
    if dreams:
        page.get_by_label("vivid dreams", exact=True).select_option(label=dreams)
    if note:
        page.get_by_label("Note (optional)").fill(note)
    page.get_by_role("button", name="Save check-in").click()


def status(page: Any) -> Any:
    return page.locator("#sync-status")


def test_a_patients_first_week(page: Any, browser_site: Site) -> None:
    site = browser_site
    sign_in(page, site, "patient")
    assert page.url.endswith("/today")
    page.get_by_role("link", name="Start").click()

    # About you
    page.get_by_label("Date of birth").fill("1972-03-14")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Weight (kg)").fill("70")
    page.get_by_label("Health conditions, one per line").fill("fibromyalgia")
    axe(page)
    shoot(page, "onboarding-profile")
    page.get_by_role("button", name="Save and continue").click()

    # Medicines
    page.wait_for_url("**/medicines")
    page.get_by_label("Medicine, strength and how you take it").fill("sertraline 50 mg daily")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("cell", name="sertraline 50 mg daily", exact=True)).to_be_visible()
    axe(page)
    page.get_by_role("link", name="Next: Is LDN safe for you?").click()

    # The screen, in plain words with its sources
    expect(page.get_by_role("heading", name="Result:", exact=False)).to_be_visible()
    page.locator("details summary").first.click() if page.locator("details").count() else None
    axe(page)
    shoot(page, "onboarding-screen")
    page.get_by_role("link", name="Next: Your plan").click()

    # No plan yet: presets to talk about
    expect(page.locator("main")).to_contain_text("You have no plan yet")
    page.get_by_label("See how a plan would go, starting today").select_option(index=0)
    page.get_by_role("button", name="Show this plan").click()
    expect(page.locator("main")).to_contain_text("an example, not your plan")
    axe(page)

    # The clinician sets the plan (their pages are another issue): a liquid, 1 mg/mL,
    # started six days ago.
    started = TODAY - timedelta(days=6)
    courses.start_course(site.cast.db, site.cast.ctx("clinician", now=datetime.now(UTC)),
                         site.cast.ids.alice, started_on=started,
                         first_plan=PlanRequest(from_date=started, protocol="dartmouth-weekly",
                                                liquid_mg_per_ml=1.0))
    page.goto("/plan")
    assert page.locator('.timeline [aria-current="step"]').count() == 1
    axe(page)
    shoot(page, "plan-timeline")

    # Daily check-ins, through the form
    page.goto("/today")
    assert "1.5 mg = 1.5 mL" in page.locator("main").inner_text()
    axe(page)
    shoot(page, "today")
    for back, pain in ((6, 7), (5, 7), (4, 6), (3, 6), (2, 5)):
        check_in(page, TODAY - timedelta(days=back), pain,
                 dreams="mild" if back > 3 else "")
        status(page).get_by_text("saved").wait_for()
    assert len(stored(site)) == 5

    # Offline: the check-in waits in the browser, then goes once
    yesterday = TODAY - timedelta(days=1)
    page.context.set_offline(True)
    check_in(page, yesterday, 5, note="made on the train")
    status(page).get_by_text("You are offline").wait_for()
    assert len(page.evaluate("window.lowdoseOutbox()")) == 1
    assert len(stored(site)) == 5
    shoot(page, "checkin-offline")
    page.context.set_offline(False)
    status(page).get_by_text("saved").wait_for()
    assert page.evaluate("window.lowdoseOutbox()") == []
    assert len(stored(site)) == 6 and versions(site, yesterday) == 1

    # The answer is lost on the way back: the browser keeps the check-in and sends it again
    # with the same key, and the server stores it once.
    lost: list[str] = []

    def lose_the_answer(route: Any) -> None:
        if not lost:
            route.fetch()  # the server stores it...
            lost.append(route.request.headers["idempotency-key"])
            route.abort()  # ...but the browser never hears back
        else:
            route.continue_()

    page.route("**/checkin", lose_the_answer)
    check_in(page, TODAY, 4, note="tonight")
    status(page).get_by_text("You are offline").wait_for()
    assert len(stored(site)) == 7  # stored, though the browser does not know
    page.reload()  # the outbox is sent again on the next page
    status(page).get_by_text("saved").wait_for()
    assert page.evaluate("window.lowdoseOutbox()") == []
    assert len(stored(site)) == 7 and versions(site, TODAY) == 1
    assert lost and len(lost[0]) >= 16

    # The chart of the week
    page.get_by_role("link", name="Charts").click()
    expect(page.get_by_role("img", name="Pain intensity (0–10 rating) and dose")).to_be_visible()
    assert page.locator("svg.chart").count() >= 3  # pain, sleep, vivid dreams
    axe(page)
    shoot(page, "charts")
