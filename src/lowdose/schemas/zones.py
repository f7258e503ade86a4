"""The optional `timezone` of a request: where its local clock times are, so the hold before
surgery counts real hours across a daylight-saving change."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone named (already validated), None for none."""
    return None if name is None else ZoneInfo(name)


def _known(name: str) -> str:
    # ZoneInfo refuses absolute and escaping paths itself; a directory ("America") or a
    # non-zone file ("zone.tab") under tzdata fails to load, and ZoneInfo caches what loads.
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name[:64]!r} is not an IANA time zone name such as "
                         f"'Europe/London' or 'America/New_York'") from None
    return name


TimeZone = Annotated[str, Field(
    max_length=64, examples=["Europe/London"],
    description="IANA time zone of the local clock times; with it the hold before surgery "
                "counts real hours across a daylight-saving change (without it, clock hours)"),
    AfterValidator(_known)]
