"""The Learn guide in real Chromium: search and navigation as a reader uses them, with axe-core
on every page (no serious or critical violation) and no request leaving the server."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from lowdose.learn import site
from web.conftest import Site, axe, shoot


def test_search_and_navigation_in_a_browser(page: Any, browser_site: Site) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto("/learn")
    assert page.get_by_role("heading", level=1).inner_text() == "Learn about LDN"
    axe(page)

    # Is Norco an opioid, and does it matter for LDN?
    page.get_by_label("Search conditions, medicines and claims").fill("Norco")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/learn/search?q=Norco")
    answer = page.locator("article.medicine")
    assert "hydrocodone (Norco)" in answer.inner_text()
    assert "Opioid: yes" in answer.inner_text()
    assert "Ruled out (contraindicated)" in answer.inner_text()
    axe(page)
    shoot(page, "learn-search-norco")

    # A claim read somewhere, found by a word of it.
    page.get_by_label("Search conditions, medicines and claims").fill("thyroid")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/learn/search?q=thyroid")
    claim = page.locator("#claim-hashimoto-thyroid-dose")
    assert "Not supported" in claim.inner_text()
    axe(page)

    # From the guide's front page to a condition, its sources, and back.
    page.goto("/learn")
    page.get_by_role("link", name="Fibromyalgia", exact=True).click()
    page.wait_for_url("**/learn/conditions/fibromyalgia")
    assert page.locator("[data-grade]").first.get_attribute("data-grade") == "rct-mixed"
    page.locator("sup.cite a").first.click()
    assert page.url.endswith("#source-younger-2009")
    expect(page.locator("#source-younger-2009")).to_be_visible()
    axe(page)
    shoot(page, "learn-fibromyalgia")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Evidence by condition").click()
    page.wait_for_url("**/learn/conditions")
    axe(page)

    for section in site.SECTIONS:
        page.goto(f"/learn/{section.slug}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        axe(page)
        shoot(page, f"learn-{section.slug}")

    outside = [url for url in requests if not url.startswith(browser_site.url)]
    assert outside == [], "the guide must work offline: nothing may load from elsewhere"


def test_guide_pages_once_read_can_be_read_offline(page: Any, browser_site: Site) -> None:
    page.goto("/learn")
    page.wait_for_function("navigator.serviceWorker.ready.then(r => !!r.active)")
    page.reload()  # now controlled by the service worker
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.goto("/learn/conditions/fibromyalgia")
    title = page.get_by_role("heading", level=1).inner_text()
    page.context.set_offline(True)
    try:
        page.goto("/learn/conditions/fibromyalgia")
        assert page.get_by_role("heading", level=1).inner_text() == title
        assert page.locator("[data-grade]").first.get_attribute("data-grade") == "rct-mixed"
        page.goto("/learn/safety")  # never read: the offline page says so
        assert "You are offline" in page.locator("h1").inner_text()
    finally:
        page.context.set_offline(False)
