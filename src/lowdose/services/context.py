"""What every use case is told by its caller: who is asking, when, and from where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lowdose.security.policy import OPERATOR, Actor
from lowdose.store.db import utc_naive


@dataclass(frozen=True)
class Context:
    """`now` is the real clock at the interface (any timezone-aware datetime, or naive UTC);
    `source` is where the request came from (client address, "cli"), kept in the audit log."""

    actor: Actor
    now: datetime
    source: str | None = None

    @property
    def at(self) -> datetime:
        """`now` as naive UTC, the form the database stores."""
        return utc_naive(self.now)


def operator_context(now: datetime, source: str = "cli") -> Context:
    """The context of someone running lowdose commands on the server itself."""
    return Context(actor=OPERATOR, now=now, source=source)
