"""Every page route, walked over real HTTP on SQLite and PostgreSQL: nobody signed out reaches
a page with a record behind it, every POST without this session's CSRF token is refused before
the page code runs, and a cookie marked Secure where the settings ask for it.

The routes are read from the web router, so a new page is walked without being listed here."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from lowdose import web
from lowdose.api.app import create_app
from lowdose.store.models import AuditEvent
from web.conftest import PASSWORD, Serve, Site, csrf_of

# Pages anyone may open.
PUBLIC_PREFIXES = ("/signin", "/offline", "/static/", "/sw.js", "/manifest.webmanifest",
                   "/learn")
# POSTs that need no session (but still the pre-session CSRF token).
PUBLIC_POSTS = {"/signin"}


def routes(method: str) -> list[str]:
    return sorted({route.path for route in web.router.routes
                   if isinstance(route, APIRoute) and method in route.methods})


def concrete(path: str) -> str:
    """A path with ids filled in (1: a record the caller may or may not see)."""
    return re.sub(r"\{[^}:]+(:path)?\}", "1", path)


def test_signed_out_every_private_page_leads_to_sign_in(site: Site) -> None:
    with site.client() as client:
        for path in routes("GET"):
            if path == "/" or path.startswith(PUBLIC_PREFIXES):
                continue
            response = client.get(concrete(path), follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/signin"), path


def test_every_post_without_the_csrf_token_is_refused(site: Site) -> None:
    with site.signed_in("admin") as client:
        before = _audit_count(site)
        for path in routes("POST"):
            response = client.post(concrete(path), data={"name": "x", "active": "no"},
                                   follow_redirects=False)
            assert response.status_code == 403, path
            assert "This form has expired" in response.text, path
        assert _audit_count(site) == before  # refused before any use case ran


def test_a_post_from_another_site_cannot_borrow_the_session(site: Site) -> None:
    """The token is bound to the session: a forged form with some other token fails."""
    with site.signed_in("admin") as client:
        forged = "0" * 64
        response = client.post("/admin/care-teams", data={"name": "Forged",
                                                          "csrf_token": forged})
    assert response.status_code == 403


@pytest.mark.parametrize("persona", ["patient", "clinician", "admin"])
def test_signing_in_lands_each_role_on_its_home(site: Site, persona: str) -> None:
    homes = {"patient": "/today", "clinician": "/clinic/panel", "admin": "/admin/users"}
    with site.client() as client:
        form = client.get("/signin")
        response = client.post("/signin", data={
            "username": site.cast.user(persona).username, "password": PASSWORD,
            "csrf_token": csrf_of(form.text)})
    assert response.headers["location"] == homes[persona]


def test_cookies_are_secure_where_the_settings_ask(site: Site, serve_app: Serve) -> None:
    settings = site.settings.model_copy(update={"secure_cookies": True})
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        form = client.get("/signin")
        assert "secure" in form.headers["set-cookie"].lower()
        # A Secure cookie does not travel back over plain http; hand it on as a browser
        # behind a TLS-terminating proxy would.
        client.cookies.set("lowdose_presession", form.cookies["lowdose_presession"])
        response = client.post("/signin", data={
            "username": "alice", "password": PASSWORD, "csrf_token": csrf_of(form.text)})
        assert "secure" in response.headers["set-cookie"].lower()


def _audit_count(site: Site) -> int:
    from sqlalchemy import func, select

    with site.cast.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
