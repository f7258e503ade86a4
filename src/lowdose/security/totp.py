"""Time-based one-time passwords (RFC 6238) as a second factor, via pyotp.

Codes are 6 digits over 30-second steps. One step of clock drift either way is accepted, and a
step once used is refused afterwards so an observed code cannot be replayed.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import pyotp

ISSUER = "lowdose"
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def _aware(moment: datetime) -> datetime:
    # pyotp reads a naive datetime as local time; lowdose's naive datetimes are UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def code_at(secret: str, moment: datetime) -> str:
    """The code an authenticator shows at `moment` (naive means UTC)."""
    return pyotp.TOTP(secret).at(_aware(moment))


def matching_step(secret: str, code: str, moment: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, or None when it is wrong, stale or already used.

    `moment` naive means UTC; the caller stores the returned step as the new last step.
    """
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    current = totp.timecode(_aware(moment))
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
