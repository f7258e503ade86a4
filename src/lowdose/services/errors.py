"""Typed errors of the use cases; each interface maps them to its own form (HTTP status, exit
code). Bad input is `lowdose.errors.InputError`, which names the field."""

from __future__ import annotations

from datetime import datetime


class ServiceError(Exception):
    """Base of the use-case errors; the message is safe to show (no patient data)."""


class NotFound(ServiceError):
    """No such record, or one the caller may not know exists (HTTP 404)."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class Forbidden(ServiceError):
    """The caller may know the record exists but may not do this to it (HTTP 403)."""


class Conflict(ServiceError):
    """The request contradicts what is stored, e.g. a reused idempotency key (HTTP 409)."""


class Unauthenticated(ServiceError):
    """Wrong credentials, an expired or revoked token, a missing second factor (HTTP 401).

    `locked_until` is set when login is locked out; `needs_totp` when only the code is missing.
    """

    def __init__(self, message: str = "invalid credentials", *,
                 locked_until: datetime | None = None, needs_totp: bool = False) -> None:
        super().__init__(message)
        self.locked_until = locked_until
        self.needs_totp = needs_totp
