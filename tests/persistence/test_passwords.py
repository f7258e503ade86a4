"""Passwords are stored as argon2id hashes at (at least) the OWASP parameters."""

from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters
from sqlalchemy import select

from lowdose.errors import InputError
from lowdose.security import passwords
from lowdose.services import accounts
from lowdose.store.models import User

from .conftest import PASSWORD, Cast

# OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1 (the first of its
# equivalent configurations).
OWASP_MEMORY_KIB, OWASP_ITERATIONS, OWASP_PARALLELISM = 19 * 1024, 2, 1


def test_stored_hashes_are_argon2id_with_owasp_parameters(cast: Cast) -> None:
    with cast.db.transaction(write=False) as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert len(hashes) == 8
    for stored in hashes:
        params = extract_parameters(stored)
        assert params.type is Type.ID
        assert params.memory_cost >= OWASP_MEMORY_KIB
        assert params.time_cost >= OWASP_ITERATIONS
        assert params.parallelism >= OWASP_PARALLELISM
        assert PASSWORD not in stored


def test_the_same_password_hashes_differently_each_time() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first != second
    assert passwords.verify_password(first, PASSWORD)
    assert passwords.verify_password(second, PASSWORD)


@pytest.mark.parametrize(("stored", "given", "ok"), [
    ("good", PASSWORD, True),
    ("good", PASSWORD.upper(), False),
    ("good", PASSWORD + " ", False),
    ("good", "", False),
    (None, PASSWORD, False),  # unknown user: a dummy hash is checked, and the answer is no
    ("not an argon2 hash", PASSWORD, False),
])
def test_verification(stored: str | None, given: str, ok: bool) -> None:
    stored_hash = passwords.hash_password(PASSWORD) if stored == "good" else stored
    assert passwords.verify_password(stored_hash, given) is ok


def test_a_hash_with_weaker_parameters_is_upgraded_at_the_next_login(cast: Cast) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with cast.db.transaction() as session:
        user = session.get(User, cast.user("clinician").id)
        assert user is not None
        user.password_hash = weak
    accounts.login(cast.db, username="carol", password=PASSWORD, now=cast.ctx("operator").now)
    with cast.db.transaction(write=False) as session:
        upgraded = session.scalars(select(User.password_hash)
                                   .where(User.username == "carol")).one()
    assert passwords.needs_rehash(weak) and not passwords.needs_rehash(upgraded)
    assert extract_parameters(upgraded).memory_cost >= OWASP_MEMORY_KIB


@pytest.mark.parametrize(("password", "ok"), [
    ("x" * (passwords.MIN_LENGTH - 1), False),
    ("x" * passwords.MIN_LENGTH, True),
    ("x" * passwords.MAX_LENGTH, True),
    ("x" * (passwords.MAX_LENGTH + 1), False),
])
def test_new_passwords_must_have_a_sensible_length(cast: Cast, password: str, ok: bool) -> None:
    def create() -> None:
        accounts.create_user(cast.db, cast.ctx("admin"), clinic_id=cast.ids.clinic_a,
                             username="newcomer", password=password, role="clinician")

    if ok:
        create()
    else:
        with pytest.raises(InputError) as error:
            create()
        assert error.value.field == "password"
