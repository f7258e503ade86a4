"""Small input checks shared by the use cases; each raises InputError naming the field."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import Enum
from typing import Final

from lowdose.errors import InputError


class _Unset(Enum):
    UNSET = "unset"


# "Leave this field as it is" in partial updates (None means "clear it").
UNSET: Final = _Unset.UNSET
Unset = _Unset

_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def text(field: str, value: str, *, max_length: int) -> str:
    """Trimmed, non-empty text of at most `max_length` characters."""
    cleaned = value.strip()
    if not cleaned:
        raise InputError(field, "must not be empty")
    if len(cleaned) > max_length:
        raise InputError(field, f"must be at most {max_length} characters")
    return cleaned


def optional_text(field: str, value: str | None, *, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return text(field, value, max_length=max_length)


def code(field: str, value: str) -> str:
    """A short lowercase identifier such as an instrument or rating name."""
    if not _CODE.match(value):
        raise InputError(field, "must be lowercase letters, digits, '_', '-' or '.' (1–64)")
    return value


def positive(field: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise InputError(field, "must be a positive number")
    return float(value)


def local_time(field: str, value: datetime | None) -> datetime | None:
    """A wall-clock time as the patient reads it, without a time zone (design §3.1)."""
    if value is not None and value.tzinfo is not None:
        raise InputError(field, "give the local time without a time zone")
    return value


def not_after(field: str, value: date | None, limit: date) -> None:
    if value is not None and value > limit:
        raise InputError(field, f"must not be after {limit.isoformat()}")
