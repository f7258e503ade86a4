"""The patient's calendar page over real HTTP, on SQLite and PostgreSQL: the .ics download
parses and holds tonight's dose, a feed URL is shown once and works without a session until
it is revoked, and the preferences refuse a made-up time zone by name."""

from __future__ import annotations

import re

import httpx
from icalendar import Calendar

from web.conftest import Site
from web.test_patient_pages import post, start_plan


def _dose_events(ics: bytes) -> list[str]:
    return [str(event["SUMMARY"]) for event in Calendar.from_ical(ics).walk("VEVENT")]


def test_the_calendar_downloads_with_the_plans_doses(site: Site) -> None:
    start_plan(site)
    with site.signed_in("patient") as client:
        page = client.get("/calendar")
        download = client.get("/calendar/download")
    assert page.status_code == 200 and 'href="/calendar/download"' in page.text
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/calendar")
    assert "attachment" in download.headers["content-disposition"]
    summaries = _dose_events(download.content)
    assert summaries and all("naltrexone" not in s.lower() for s in summaries)


def test_a_feed_url_is_shown_once_works_without_a_session_and_can_be_revoked(
        site: Site) -> None:
    start_plan(site)
    with site.signed_in("patient") as client:
        made = post(client, "/calendar/feeds", {"label": "phone"})
        assert made.status_code == 200
        found = re.search(r'<code id="new-feed-url">([^<]+)</code>', made.text)
        assert found is not None
        url = found.group(1)
        listed = client.get("/calendar")
        assert url not in listed.text and "phone" in listed.text  # the secret is not shown again
        with httpx.Client() as anyone:  # a calendar app: no cookie, no token
            assert anyone.get(url).status_code == 200
        feed_id = re.search(r'action="/calendar/feeds/(\d+)/revoke"', listed.text)
        assert feed_id is not None
        revoked = post(client, f"/calendar/feeds/{feed_id.group(1)}/revoke", {})
        assert revoked.status_code == 303
        with httpx.Client() as anyone:
            assert anyone.get(url).status_code == 404


def test_preferences_are_saved_and_a_made_up_zone_is_refused_by_name(site: Site) -> None:
    with site.signed_in("patient") as client:
        bad = post(client, "/calendar/preferences", {"timezone": "Mars/Olympus"})
        good = post(client, "/calendar/preferences", {"timezone": "Europe/Berlin",
                                                      "medicine_names": "yes"})
        page = client.get("/calendar")
    assert bad.status_code == 422 and "<strong>timezone</strong>" in bad.text
    assert good.status_code == 303
    assert 'value="Europe/Berlin"' in page.text and "checked" in page.text


def test_the_calendar_page_is_the_patients_own(site: Site) -> None:
    with site.signed_in("clinician") as client:
        assert client.get("/calendar").status_code == 403
