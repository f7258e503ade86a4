"""Every condition page of the Learn guide, and search by the everyday names of conditions, in
real Chromium with axe-core (no serious or critical violation)."""

from __future__ import annotations

from typing import Any

from lowdose.learn import site
from web.conftest import Site, axe


def test_every_condition_page_passes_axe(page: Any, browser_site: Site) -> None:
    # clinical-facts §5: one page per condition, each readable by assistive technology.
    for entry in site.knowledge().evidence.conditions:
        page.goto(f"/learn/conditions/{entry.id}")
        assert entry.name in page.get_by_role("heading", level=1).inner_text()
        assert page.locator("[data-grade]").first.get_attribute("data-grade") == entry.grade.id
        axe(page)


def test_search_by_everyday_names_in_a_browser(page: Any, browser_site: Site) -> None:
    for query, condition in [("fibro", "fibromyalgia"), ("long covid", "long-covid"),
                             ("MS", "multiple-sclerosis"), ("Crohn's", "crohns-disease"),
                             ("CRPS", "crps"), ("cancer", "cancer")]:
        page.goto("/learn")
        page.get_by_label("Search conditions, medicines and claims").fill(query)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url("**/learn/search?q=*")
        first = page.locator("tr[data-condition]").first
        assert first.get_attribute("data-condition") == condition, query
        axe(page)
    # "LDN treats cancer" is shown as not supported, with why (clinical-facts §5 Cancer).
    assert "Not supported" in page.locator("#claim-cancer-treatment").inner_text()
