"""Logging in: passwords, lockout shared by every worker, the optional second factor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lowdose.security import ratelimit, totp
from lowdose.services import accounts
from lowdose.services.errors import Unauthenticated
from lowdose.store import Database

from .conftest import NOW, PASSWORD, Cast

USER_LIMIT = ratelimit.PER_USERNAME
ADDRESS_LIMIT = ratelimit.PER_ADDRESS


def _login(db: Database, username: str = "carol", password: str = PASSWORD, *,
           at: datetime = NOW, source: str | None = "198.51.100.1",
           code: str | None = None) -> accounts.IssuedToken:
    return accounts.login(db, username=username, password=password, now=at, source=source,
                          totp_code=code)


def _fails(db: Database, *args: object, **kwargs: object) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as error:
        _login(db, *args, **kwargs)  # type: ignore[arg-type]
    return error.value


@pytest.mark.parametrize("username", ["carol", "Carol", " CAROL "])
def test_the_right_password_gives_a_token_for_the_user(cast: Cast, username: str) -> None:
    issued = _login(cast.db, username)
    assert issued.user.id == cast.user("clinician").id
    assert issued.token.startswith("ldt_") and len(issued.token) > 40
    actor = accounts.authenticate_token(cast.db, issued.token, now=NOW)
    assert actor == cast.actor("clinician")


@pytest.mark.parametrize(("username", "password"), [
    ("carol", "wrong password!"),
    ("nobody", PASSWORD),
])
def test_wrong_password_and_unknown_user_fail_alike(cast: Cast, username: str,
                                                     password: str) -> None:
    error = _fails(cast.db, username, password)
    assert str(error) == "invalid credentials" and error.locked_until is None


def test_a_disabled_account_cannot_log_in(cast: Cast) -> None:
    accounts.set_active(cast.db, cast.ctx("admin"), cast.user("clinician").id, False)
    _fails(cast.db)


def test_repeated_failures_lock_the_username_even_for_the_right_password(cast: Cast) -> None:
    for attempt in range(USER_LIMIT.max_failures):
        error = _fails(cast.db, password="wrong password!", at=NOW + timedelta(seconds=attempt))
    locked_at = NOW + timedelta(seconds=USER_LIMIT.max_failures - 1)
    assert error.locked_until == (locked_at + USER_LIMIT.lockout).replace(tzinfo=None)
    still = _fails(cast.db, at=locked_at + USER_LIMIT.lockout - timedelta(seconds=1))
    assert still.locked_until == error.locked_until
    assert _login(cast.db, at=locked_at + USER_LIMIT.lockout).user.username == "carol"


def test_failures_spread_beyond_the_window_do_not_lock(cast: Cast) -> None:
    spacing = USER_LIMIT.window / (USER_LIMIT.max_failures - 1) + timedelta(seconds=1)
    for attempt in range(USER_LIMIT.max_failures + 2):
        error = _fails(cast.db, password="wrong password!", at=NOW + attempt * spacing)
        assert error.locked_until is None


def test_a_successful_login_clears_the_count(cast: Cast) -> None:
    for attempt in range(USER_LIMIT.max_failures - 1):
        _fails(cast.db, password="wrong password!", at=NOW + timedelta(seconds=attempt))
    _login(cast.db, at=NOW + timedelta(seconds=10))
    for attempt in range(USER_LIMIT.max_failures - 1):
        error = _fails(cast.db, password="wrong", at=NOW + timedelta(seconds=20 + attempt))
    assert error.locked_until is None


def test_unknown_usernames_lock_like_real_ones(cast: Cast) -> None:
    for attempt in range(USER_LIMIT.max_failures):
        error = _fails(cast.db, "nobody", at=NOW + timedelta(seconds=attempt))
    assert error.locked_until is not None


def test_workers_with_their_own_connections_count_together(cast: Cast) -> None:
    # Two engines stand for two server processes.
    other = Database(cast.db.url)
    try:
        for attempt in range(USER_LIMIT.max_failures):
            db = (cast.db, other)[attempt % 2]
            error = _fails(db, password="wrong password!", at=NOW + timedelta(seconds=attempt))
        assert error.locked_until is not None
        assert _fails(other, at=NOW + timedelta(minutes=1)).locked_until is not None
    finally:
        other.dispose()


def test_one_address_spraying_many_usernames_is_throttled(cast: Cast) -> None:
    spray = "192.0.2.66"
    for attempt in range(ADDRESS_LIMIT.max_failures):
        error = _fails(cast.db, f"guess{attempt}", "wrong password!", source=spray,
                       at=NOW + timedelta(seconds=attempt))
    assert error.locked_until is not None
    later = NOW + timedelta(minutes=1)
    assert _fails(cast.db, "carol", PASSWORD, source=spray, at=later).locked_until is not None
    assert _login(cast.db, "carol", source="192.0.2.99", at=later).user.username == "carol"


# ------------------------------------------------------------------------------ TOTP


def _enrol(cast: Cast, persona: str = "clinician") -> str:
    ctx = cast.ctx(persona)
    enrolment = accounts.start_totp(cast.db, ctx)
    assert enrolment.uri.startswith("otpauth://totp/")
    accounts.confirm_totp(cast.db, ctx, totp.code_at(enrolment.secret, NOW))
    return enrolment.secret


def test_with_totp_enabled_the_password_alone_is_not_enough(cast: Cast) -> None:
    secret = _enrol(cast)
    later = NOW + timedelta(minutes=5)
    error = _fails(cast.db, at=later)
    assert error.needs_totp
    assert _login(cast.db, at=later, code=totp.code_at(secret, later)).user.username == "carol"


@pytest.mark.parametrize(("offset", "ok"), [
    (timedelta(seconds=-30), True),  # one step of clock drift
    (timedelta(seconds=0), True),
    (timedelta(seconds=30), True),
    (timedelta(seconds=-90), False),
    (timedelta(seconds=90), False),
])
def test_codes_from_a_drifting_clock(cast: Cast, offset: timedelta, ok: bool) -> None:
    secret = _enrol(cast)
    later = NOW + timedelta(minutes=5)
    code = totp.code_at(secret, later + offset)
    if ok:
        _login(cast.db, at=later, code=code)
    else:
        assert not _fails(cast.db, at=later, code=code).needs_totp


def test_a_code_cannot_be_used_twice(cast: Cast) -> None:
    secret = _enrol(cast)
    later = NOW + timedelta(minutes=5)
    code = totp.code_at(secret, later)
    _login(cast.db, at=later, code=code)
    _fails(cast.db, at=later + timedelta(seconds=5), code=code)


def test_wrong_codes_count_towards_the_lockout(cast: Cast) -> None:
    _enrol(cast)
    later = NOW + timedelta(minutes=5)
    for attempt in range(USER_LIMIT.max_failures):
        error = _fails(cast.db, at=later + timedelta(seconds=attempt), code="000000")
    assert error.locked_until is not None


def test_turning_totp_off_needs_a_current_code(cast: Cast) -> None:
    from lowdose.errors import InputError

    secret = _enrol(cast)
    later = NOW + timedelta(minutes=5)
    with pytest.raises(InputError):
        accounts.disable_totp(cast.db, cast.ctx("clinician", now=later), "123456")
    accounts.disable_totp(cast.db, cast.ctx("clinician", now=later), totp.code_at(secret, later))
    assert _login(cast.db, at=later + timedelta(minutes=1)).user.totp_enabled is False
