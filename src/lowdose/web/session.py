"""Cookie sessions for the browser, on the accounts' own session tokens.

A session is an `accounts.login(kind="session")` token kept in an HttpOnly, SameSite=Lax
cookie (Secure when served over https). It ends after 30 idle minutes or 12 hours (see
`security.tokens.SESSION`); pages warn before the idle end. `current_context` turns the cookie
into the services' `Context`; pages call it first, so an anonymous request never reaches a use
case.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from starlette.responses import Response

from lowdose.security import tokens
from lowdose.services import accounts
from lowdose.services.accounts import IssuedToken, UserView
from lowdose.services.context import Context
from lowdose.services.errors import Unauthenticated
from lowdose.settings import Settings
from lowdose.store import Database
from lowdose.web import security

SESSION_COOKIE = "lowdose_session"
PRE_SESSION_COOKIE = "lowdose_presession"
IDLE_SECONDS = int(tokens.SESSION.idle.total_seconds())


def now() -> datetime:
    """The real clock, read at the interface only."""
    return datetime.now(UTC)


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings(request: Request) -> Settings:
    configured: Settings = request.app.state.settings
    return configured


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def current_context(request: Request) -> Context:
    """The signed-in user's `Context`; `Unauthenticated` (answered with a redirect to the
    sign-in page) without a valid session cookie."""
    cached = getattr(request.state, "context", None)
    if isinstance(cached, Context):
        return cached
    token = session_token(request)
    if not token:
        raise Unauthenticated("sign in first")
    at = now()
    actor = accounts.authenticate_token(database(request), token, now=at, kind="session")
    ctx = Context(actor=actor, now=at, source=source_of(request))
    request.state.context = ctx
    return ctx


def optional_context(request: Request) -> Context | None:
    """The `Context` when signed in, else None (for public pages)."""
    try:
        return current_context(request)
    except Unauthenticated:
        return None


def current_user(request: Request) -> UserView:
    """The signed-in user (name, role, own patient record), read once per request."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, UserView):
        return cached
    user = accounts.me(database(request), current_context(request))
    request.state.user = user
    return user


def csrf_for(request: Request) -> str:
    """The token forms on this page must send back: bound to the session when signed in,
    else to the pre-session cookie (set on the response by `templating.render`)."""
    secret = settings(request).resolved_secret_key
    token = session_token(request)
    if token and optional_context(request) is not None:
        return security.csrf_token(secret, token)
    pre = request.cookies.get(PRE_SESSION_COOKIE)
    if not pre:
        pre = getattr(request.state, "new_pre_session", None) or \
            security.new_pre_session_value()
        request.state.new_pre_session = pre
    return security.csrf_token(secret, pre)


def csrf_valid(request: Request, sent: str | None) -> bool:
    """Whether `sent` is this browser's token: the session's, or before sign-in the
    pre-session cookie's."""
    secret = settings(request).resolved_secret_key
    bound = session_token(request)
    if bound and security.csrf_matches(secret, bound, sent):
        return True
    return security.csrf_matches(secret, request.cookies.get(PRE_SESSION_COOKIE), sent)


def sign_in(request: Request, *, username: str, password: str,
            totp_code: str | None) -> IssuedToken:
    return accounts.login(database(request), username=username, password=password, now=now(),
                          source=source_of(request), totp_code=totp_code, kind="session",
                          label="browser")


def secure_cookies(request: Request) -> bool:
    """`Secure` when the page came over https, and always where the settings demand it
    (production: behind a proxy that terminates TLS the app may see plain http)."""
    return is_https(request) or settings(request).cookies_secure


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    # No Max-Age: the cookie ends with the browser; the server ends the session itself.
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=secure_cookies(request),
                        samesite="lax", path="/")
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def set_pre_session_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(PRE_SESSION_COOKIE, value, httponly=True,
                        secure=secure_cookies(request),
                        samesite="strict", path="/", max_age=3600)


def sign_out(request: Request, response: Response) -> None:
    token = session_token(request)
    if token:
        accounts.logout(database(request), token, now=now(), source=source_of(request))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True,
                           secure=secure_cookies(request), samesite="lax")
