"""The account page, for every role, over real HTTP on SQLite and PostgreSQL: change the
password (every session ends), set up two-step sign-in from the page's key and confirm it with
the app's code (then signing in asks for it), and sign out everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest

from web.conftest import PASSWORD, Site, csrf_of
from web.test_patient_pages import post

NEW_PASSWORD = "a much longer passphrase 2026"


def sign_in_status(site: Site, username: str, password: str, code: str | None = None) -> int:
    with site.client() as client:
        data = {"username": username, "password": password,
                "csrf_token": csrf_of(client.get("/signin").text)}
        if code:
            data["totp_code"] = code
        return client.post("/signin", data=data).status_code


@pytest.mark.parametrize("persona", ["patient", "clinician", "admin"])
def test_every_role_has_an_account_page_in_its_navigation(site: Site, persona: str) -> None:
    with site.signed_in(persona) as client:
        page = client.get("/account")
        home = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert f"Signed in as <strong>{site.cast.user(persona).username}</strong>" in page.text
    assert 'href="/account"' in home.text


def test_changing_the_password_signs_out_and_the_new_one_works(site: Site) -> None:
    with site.signed_in("patient") as client:
        mismatch = post(client, "/account/password", {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD + "x"})
        wrong = post(client, "/account/password", {
            "current_password": "not it", "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD})
        assert mismatch.status_code == 422 and "repeat_password" in mismatch.text
        assert wrong.status_code == 422 and "current_password" in wrong.text
        done = post(client, "/account/password", {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD})
        assert done.status_code == 303 and done.headers["location"] == "/signin?changed=1"
        assert "password was changed" in client.get(done.headers["location"]).text
        assert client.get("/account").status_code in (303, 401)  # this session ended too
    username = site.cast.user("patient").username
    assert sign_in_status(site, username, PASSWORD) == 401
    assert sign_in_status(site, username, NEW_PASSWORD) == 303


def test_two_step_sign_in_is_set_up_from_the_page_and_then_asked_for(site: Site) -> None:
    username = site.cast.user("clinician").username
    with site.signed_in("clinician") as client:
        started = post(client, "/account/totp/start", {})
        assert started.status_code == 200 and "<svg" in started.text  # the QR code
        key = re.search(r"Key: <code>([A-Z2-7 ]+)</code>", started.text)
        assert key is not None
        secret = key.group(1).replace(" ", "")
        now = datetime.now(UTC)
        wrong = post(client, "/account/totp/confirm", {"code": "000000"})
        assert wrong.status_code == 422 and "Start again" in wrong.text
        on = post(client, "/account/totp/confirm",
                  {"code": pyotp.TOTP(secret).at(now, counter_offset=-1)})
        assert on.status_code == 303
        assert "Two-step sign-in is on" in client.get(on.headers["location"]).text

    assert sign_in_status(site, username, PASSWORD) == 401
    assert sign_in_status(site, username, PASSWORD, pyotp.TOTP(secret).at(now)) == 303


def test_signing_out_everywhere_ends_the_other_sessions(site: Site) -> None:
    with site.signed_in("clinician") as elsewhere, site.signed_in("clinician") as here:
        assert elsewhere.get("/account").status_code == 200
        done = post(here, "/account/signout-everywhere", {})
        assert done.status_code == 303
        assert elsewhere.get("/account").status_code in (303, 401)
