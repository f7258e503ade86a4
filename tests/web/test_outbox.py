"""The browser's check-in outbox in Chromium: a server error keeps the check-in for later; on a
shared browser one person's waiting check-in is never sent into another's record, and signing
out (after a warning) leaves none of it on the device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lowdose.services import checkins
from web.conftest import Site, sign_in


def stored(site: Site, persona: str) -> int:
    ctx = site.cast.ctx(persona, now=datetime.now(UTC))
    record = site.cast.ids.alice if persona == "patient" else site.cast.ids.bob
    return len(checkins.list_checkins(site.cast.db, ctx, record))


def save_check_in(page: Any) -> None:
    page.get_by_role("spinbutton", name="how bad was your pain").fill("4")
    page.get_by_role("button", name="Save check-in").click()


def outbox(page: Any) -> list[Any]:
    items: list[Any] = page.evaluate("window.lowdoseOutbox()")
    return items


def test_a_server_error_keeps_the_check_in_for_later(page: Any, browser_site: Site) -> None:
    sign_in(page, browser_site, "patient")
    page.route("**/checkin", lambda route: route.fulfill(status=503, body="{}",
                                                         content_type="application/json"))
    save_check_in(page)
    page.locator("#sync-status").get_by_text("server had a problem").wait_for()
    assert len(outbox(page)) == 1 and stored(browser_site, "patient") == 0
    page.unroute("**/checkin")
    page.reload()
    page.locator("#sync-status").get_by_text("saved").wait_for()
    assert outbox(page) == [] and stored(browser_site, "patient") == 1


def test_a_waiting_check_in_goes_only_to_its_own_record(page: Any,
                                                        browser_site: Site) -> None:
    sign_in(page, browser_site, "patient")
    page.route("**/checkin", lambda route: route.abort())  # the connection drops
    save_check_in(page)
    page.locator("#sync-status").get_by_text("You are offline").wait_for()
    page.unroute("**/checkin")
    page.context.clear_cookies()  # Alice's session ended without her signing out

    sign_in(page, browser_site, "second_patient")  # Bob, on the same browser
    page.wait_for_load_state("networkidle")
    assert len(outbox(page)) == 1  # still Alice's, still waiting, not sent into Bob's record
    assert stored(browser_site, "second_patient") == 0
    assert stored(browser_site, "patient") == 0


def test_signing_out_warns_then_deletes_a_waiting_check_in(page: Any,
                                                           browser_site: Site) -> None:
    sign_in(page, browser_site, "patient")
    page.route("**/checkin", lambda route: route.abort())
    save_check_in(page)
    page.locator("#sync-status").get_by_text("You are offline").wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.locator("#sync-status").get_by_text("not reached the server yet").wait_for()
    assert len(outbox(page)) == 1 and "/signin" not in page.url  # warned, still signed in

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin**")
    assert outbox(page) == []  # nothing of Alice's record is left on the device
    assert stored(browser_site, "patient") == 0
