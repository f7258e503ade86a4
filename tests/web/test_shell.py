"""The web app's shell over real HTTP: sign-in and sign-out with a cookie session, CSRF on
every form, strict security headers, and the shell in a real browser with axe."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lowdose.store.models import AuditEvent, AuthToken
from web.conftest import PASSWORD, Site, axe, csrf_of, shoot, sign_in


def session_cookie(response: httpx.Response) -> str:
    return next(value for value in response.headers.get_list("set-cookie")
                if value.startswith("lowdose_session="))


def test_sign_in_sets_an_httponly_lax_session_cookie(site: Site) -> None:
    with site.client() as client:
        page = client.get("/signin")
        response = client.post("/signin", data={"username": "alice", "password": PASSWORD,
                                                "csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
        assert response.headers["location"] == "/today"
        cookie = session_cookie(response).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain http on loopback; https sets it
        with site.cast.db.transaction(write=False) as session:
            kinds = session.scalars(select(AuthToken.kind)).all()
        assert "session" in kinds


def test_a_wrong_password_is_refused_with_a_plain_message(site: Site) -> None:
    with site.client() as client:
        page = client.get("/signin")
        response = client.post("/signin", data={"username": "alice", "password": "nope",
                                                "csrf_token": csrf_of(page.text)})
        assert response.status_code == 401
        assert "do not match an account" in response.text
        assert "lowdose_session" not in response.headers.get("set-cookie", "")


def test_sign_in_without_the_csrf_token_is_refused(site: Site) -> None:
    with site.client() as client:
        client.get("/signin")
        response = client.post("/signin", data={"username": "alice", "password": PASSWORD})
        assert response.status_code == 403
        assert "lowdose_session" not in response.headers.get("set-cookie", "")


def test_a_post_with_another_sessions_token_is_refused(site: Site) -> None:
    with site.signed_in("patient") as alice, site.signed_in("second_patient") as bob:
        bobs_token = csrf_of(bob.get("/offline").text)
        response = alice.post("/signout", data={"csrf_token": bobs_token})
        assert response.status_code == 403
        assert alice.get("/", follow_redirects=False).headers["location"] == "/today"


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    with site.signed_in("patient") as client:
        token = client.cookies["lowdose_session"]
        response = client.post("/signout", data={"csrf_token": csrf_of(
            client.get("/offline").text)})
        assert response.status_code == 303
        client.cookies.set("lowdose_session", token)  # a copy kept by someone else
        assert client.get("/", follow_redirects=False).headers["location"] == "/signin"
    with site.cast.db.transaction(write=False) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "auth.logout" in actions


@pytest.mark.parametrize("path", ["/signin", "/offline", "/static/app.js", "/sw.js"])
def test_every_response_carries_the_strict_headers(site: Site, path: str) -> None:
    with site.client() as client:
        headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_pages_are_never_cached_but_static_files_may_be(site: Site) -> None:
    with site.client() as client:
        assert client.get("/signin").headers["cache-control"] == "no-store"
        assert client.get("/static/app.css").headers["cache-control"] == "no-cache"


def test_static_files_stay_inside_their_folder(site: Site) -> None:
    with site.client() as client:
        for path in ("/static/../settings.py", "/static/%2e%2e/settings.py",
                     "/static/README.md", "/static/nothing.js"):
            assert client.get(path).status_code == 404, path


def test_no_page_asks_for_inline_script_or_style(site: Site) -> None:
    with site.signed_in("patient") as client:
        html = client.get("/offline").text
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_an_expired_session_leads_to_sign_in_with_the_page_to_return_to(site: Site) -> None:
    with site.client() as client:
        client.cookies.set("lowdose_session", "ldt_not-a-token")
        response = client.get("/today", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?next=/today"


def test_sign_in_returns_only_to_a_path_on_this_site(site: Site) -> None:
    with site.client() as client:
        page = client.get("/signin?next=//evil.example/x")
        assert "evil.example" not in page.text
        response = client.post("/signin", data={
            "username": "alice", "password": PASSWORD, "next": "https://evil.example/",
            "csrf_token": csrf_of(page.text)})
        assert response.headers["location"] == "/today"


# ------------------------------------------------------------------------------ browser


def test_the_sign_in_page_in_a_browser(page: Any, browser_site: Site) -> None:
    page.goto("/")
    assert page.url.endswith("/signin")
    assert page.locator("footer").inner_text().startswith(
        "lowdose supports decisions; it does not make them.")
    axe(page)
    shoot(page, "signin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    axe(page)


def test_the_idle_warning_offers_to_stay_signed_in(page: Any, browser_site: Site) -> None:
    page.clock.install()
    sign_in(page, browser_site, "patient")
    dialog = page.get_by_role("alertdialog")
    assert not dialog.is_visible()
    page.clock.fast_forward("25:30")
    assert dialog.is_visible()
    axe(page)
    shoot(page, "idle-warning")
    page.get_by_role("button", name="Stay signed in").click()
    dialog.wait_for(state="hidden")
    page.clock.fast_forward("30:30")
    page.wait_for_url("**/signin?expired=1")
    assert "signed out after a while" in page.locator("main").inner_text()


def test_repeated_wrong_passwords_lock_the_sign_in_for_a_while(site: Site) -> None:
    with site.client() as client:
        for _ in range(5):
            token = csrf_of(client.get("/signin").text)
            client.post("/signin", data={"username": "alice", "password": "nope",
                                         "csrf_token": token})
        token = csrf_of(client.get("/signin").text)
        locked = client.post("/signin", data={"username": "alice", "password": PASSWORD,
                                              "csrf_token": token})
    assert locked.status_code == 429
    assert "Too many attempts" in locked.text


def test_a_second_factor_is_asked_for_when_enabled(site: Site) -> None:
    from datetime import UTC, datetime

    import pyotp

    from lowdose.services import accounts

    ctx = site.cast.ctx("clinician", now=datetime.now(UTC))
    enrolment = accounts.start_totp(site.cast.db, ctx)
    accounts.confirm_totp(site.cast.db, ctx, pyotp.TOTP(enrolment.secret).now())
    with site.client() as client:
        token = csrf_of(client.get("/signin").text)
        first = client.post("/signin", data={"username": "carol", "password": PASSWORD,
                                             "csrf_token": token})
        assert first.status_code == 401
        assert "Code from your authenticator app" in first.text
        code = pyotp.TOTP(enrolment.secret).at(datetime.now(UTC), counter_offset=1)
        second = client.post("/signin", data={"username": "carol", "password": PASSWORD,
                                              "totp_code": code, "csrf_token": token})
        assert second.status_code == 303
