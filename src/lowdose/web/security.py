"""Browser security: the headers every web response carries, and CSRF tokens for forms.

The CSRF token is an HMAC of the session token under the server's secret key, so it needs no
table, changes with every session, and cannot be computed by another site. Before sign-in
there is no session: the sign-in form is tied to a random pre-session cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.responses import Response

# No inline script, no inline style attributes, nothing from another origin: lowdose runs
# offline, so every script, style and image is served by the app itself.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def add_security_headers(response: Response, *, https: bool, private: bool) -> None:
    """Set the strict headers; `private` pages (anything from the record) are never cached
    by the browser or a proxy, so a shared computer keeps nothing after sign-out."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if https:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if private:
        response.headers["Cache-Control"] = "no-store"


def csrf_token(secret: str, bound_to: str) -> str:
    """The form token for a session token (or a pre-session cookie)."""
    return hmac.new(secret.encode(), b"csrf:" + bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: str, bound_to: str | None, sent: str | None) -> bool:
    if not bound_to or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), sent)


def new_pre_session_value() -> str:
    return secrets.token_urlsafe(32)
