"""Password hashing with argon2id at the OWASP Password Storage Cheat Sheet parameters.

OWASP's first recommended argon2id configuration: 19 MiB of memory, 2 iterations, 1 degree of
parallelism. Stored hashes carry their parameters, so raising them later only needs
`needs_rehash` at the next successful login.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from lowdose.errors import InputError

MEMORY_KIB = 19 * 1024
ITERATIONS = 2
PARALLELISM = 1

# NIST SP 800-63B: at least 8 characters, more when the password is the only factor; long
# passphrases allowed. The upper bound keeps one login from costing unbounded hashing time.
MIN_LENGTH = 12
MAX_LENGTH = 1024

_hasher = PasswordHasher(
    time_cost=ITERATIONS,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a miss costs the same time as a hit.
    Made on first use: hashing at import cost every command ~35 ms."""
    return _hasher.hash("lowdose: no such user")


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InputError(field, f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise InputError(field, f"must be at most {MAX_LENGTH} characters long")


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (which must follow the length rules)."""
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches `stored_hash`; None (unknown user) takes as long and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with older parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
