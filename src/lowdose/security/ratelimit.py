"""Login throttling and lockout, kept in the database so every worker sees the same counts.

Two counters guard the login form: one per username (stops guessing one account's password)
and one per client address (stops spraying many accounts from one place). Failures inside a
window add up; reaching the limit locks that key for a while, even for the right password.
Unknown usernames are counted like known ones, so the replies do not reveal which exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lowdose.store.models import LoginThrottle


@dataclass(frozen=True)
class Rule:
    max_failures: int
    window: timedelta
    lockout: timedelta


# OWASP Authentication Cheat Sheet: lock after a small number of failures for a limited time.
PER_USERNAME = Rule(max_failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
# Many people can share one address (a clinic's NAT), so the address limit is looser.
PER_ADDRESS = Rule(max_failures=50, window=timedelta(minutes=15), lockout=timedelta(minutes=15))


def _keys(username: str, address: str | None) -> list[tuple[str, Rule]]:
    keys = [(f"user:{username.strip().casefold()}", PER_USERNAME)]
    if address:
        keys.append((f"addr:{address}", PER_ADDRESS))
    return keys


def locked_until(session: Session, username: str, address: str | None,
                 now: datetime) -> datetime | None:
    """When the lock on this login ends, or None when it may be tried now (`now` naive UTC)."""
    keys = [key for key, _ in _keys(username, address)]
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    ends = [row.locked_until for row in rows if row.locked_until and row.locked_until > now]
    return max(ends, default=None)


def record_failure(session: Session, username: str, address: str | None,
                   now: datetime) -> datetime | None:
    """Count a failed login; returns when the resulting lock ends, if this failure set one."""
    lock_ends: datetime | None = None
    for key, rule in _keys(username, address):
        row = _locked_row(session, key, now)
        if now - row.window_started_at >= rule.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= rule.max_failures:
            row.locked_until = now + rule.lockout
            row.failures, row.window_started_at = 0, now
            lock_ends = max(lock_ends or row.locked_until, row.locked_until)
    return lock_ends


def record_success(session: Session, username: str) -> None:
    """A correct login clears the username's failures (the address keeps its count)."""
    key, _ = _keys(username, None)[0]
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)


def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    # Insert-if-missing first, then lock: two workers failing at once both count.
    values = {"key": key, "failures": 0, "window_started_at": now}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row
