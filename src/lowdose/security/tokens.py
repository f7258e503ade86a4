"""Opaque bearer tokens for browser sessions and the API.

A token is 256 random bits shown to the client once; the database keeps only its SHA-256, so a
copy of the database cannot be replayed as a login. Each token expires when it has been idle too
long or has lived too long, whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from lowdose.store.models import AuthToken


class TokenTimes(Protocol):
    """What `is_usable` reads of a stored token."""

    @property
    def kind(self) -> str: ...
    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def last_used_at(self) -> datetime: ...


# The prefix makes leaked tokens easy to recognise for secret scanners and people.
PREFIX = "ldt_"


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


# A browser session ends after 30 minutes without use or 12 hours in all (OWASP Session
# Management Cheat Sheet: short idle timeouts for sensitive data, an absolute cap on top).
SESSION = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
# API tokens serve scripts and apps that call in bursts: a longer idle window, one-day cap.
API = Lifetime(idle=timedelta(hours=2), absolute=timedelta(hours=24))

LIFETIMES = {"session": SESSION, "api": API}

# Refresh `last_used_at` at most this often, so reads are not turned into writes on every
# call; a token's idle time is therefore measured to within this interval.
TOUCH_INTERVAL = timedelta(seconds=60)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_usable(record: TokenTimes, now: datetime) -> bool:
    """Whether the token is neither revoked, nor idle too long, nor past its absolute end.

    `record` is a stored token (ORM object or row); `now` is naive UTC, like the stored times.
    """
    lifetime = LIFETIMES[record.kind]
    return (
        record.revoked_at is None
        and now < record.expires_at
        and now - record.last_used_at < lifetime.idle
    )


def new_record(user_id: int, kind: str, now: datetime, label: str | None) -> tuple[str, AuthToken]:
    """A fresh token and the row that stores its hash; the caller adds the row."""
    token = new_token()
    record = AuthToken(
        user_id=user_id,
        kind=kind,
        token_hash=hash_token(token),
        label=label,
        created_at=now,
        last_used_at=now,
        expires_at=now + LIFETIMES[kind].absolute,
    )
    return token, record
