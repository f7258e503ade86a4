"""Signing in and out in the browser, the front door `/`, and keeping a session alive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from lowdose.services.errors import Unauthenticated
from lowdose.web import session
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

HOME_BY_ROLE = {"patient": "/today", "clinician": "/clinic/panel", "admin": "/admin/users"}
DEMO_ACCOUNTS_FILE = "demo-accounts.json"


@router.get("/")
def front_door(request: Request) -> Response:
    if session.optional_context(request) is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(HOME_BY_ROLE.get(session.current_user(request).role, "/learn"),
                            status_code=303)


@router.get("/signin")
def sign_in_page(request: Request, next: str | None = None, expired: bool = False,
                 changed: bool = False) -> Response:
    return render(request, "signin.html", {
        "next": _safe_next(next), "expired": expired, "changed": changed, "error": None,
        "username": "", "needs_code": False, "demo_accounts": demo_accounts(request)})


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    code = str(form.get("totp_code", "")).strip() or None
    target = _safe_next(str(form.get("next", ""))) or None
    try:
        issued = session.sign_in(request, username=username, password=password, totp_code=code)
    except Unauthenticated as exc:
        locked = exc.locked_until is not None
        message = ("Too many attempts. Wait a few minutes, then try again." if locked
                   else "Enter the code from your authenticator app." if exc.needs_totp
                   else "That username and password do not match an account.")
        return render(request, "signin.html", {
            "next": target, "expired": False, "changed": False, "error": message,
            "username": username,
            "needs_code": exc.needs_totp, "demo_accounts": demo_accounts(request)},
            status=429 if locked else 401)
    home = HOME_BY_ROLE.get(issued.user.role, "/learn")
    response = RedirectResponse(target or home, status_code=303)
    session.set_session_cookie(request, response, issued.token)
    return response


@router.post("/signout")
def sign_out(request: Request) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    session.sign_out(request, response)
    return response


@router.post("/session/keepalive")
def keep_alive(request: Request) -> Response:
    """The idle warning's "stay signed in": any authenticated request resets the idle clock."""
    session.current_context(request)
    return JSONResponse({"idle_seconds": session.IDLE_SECONDS})


def demo_accounts(request: Request) -> list[dict[str, Any]]:
    """The demo clinic's sign-ins, shown on the sign-in page in demo mode only."""
    settings = session.settings(request)
    if settings.mode != "demo":
        return []
    path: Path = settings.data_dir / DEMO_ACCOUNTS_FILE
    try:
        accounts: list[dict[str, Any]] = json.loads(path.read_text())["accounts"]
    except (OSError, ValueError, KeyError):
        return []
    return accounts


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: never another origin, never a query string.
    if not target or not target.startswith("/") or target.startswith("//") or "?" in target \
            or "\\" in target:
        return None
    return target


@router.get("/offline")
def offline(request: Request) -> Response:
    """What the service worker shows when a page cannot be reached (kept without a cookie, so
    it holds nothing from anyone's record)."""
    return render(request, "offline.html", {})
