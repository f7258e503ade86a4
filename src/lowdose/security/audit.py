"""The audit log: an append-only, hash-chained record of every access to patient data.

Each event stores the SHA-256 of its own fields and of the previous event's hash, so changing,
inserting, deleting or reordering any stored event breaks the chain from that point on. The
one-row `audit_head` points at the newest event, so cutting events off the end shows too.
What the chain cannot show is a log rewritten wholesale, hashes and head included: for that,
keep a copy of `head_hash` elsewhere (`lowdose audit verify` prints it) and compare later.

Events hold identifiers (user, patient, record), never clinical values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from lowdose.store.db import utc_naive
from lowdose.store.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
HEAD_ID = 1

_COLUMNS = ("id", "at", "actor_user_id", "action", "outcome", "patient_id", "target", "source",
            "prev_hash", "hash")

# Prepared Core statements: an append runs inside every patient-data transaction while the
# write lock (SQLite) or the head row lock (PostgreSQL) is held, so it has to be lean.
_EVENTS = cast(Table, AuditEvent.__table__)
_HEADS = cast(Table, AuditHead.__table__)
_HEAD = (select(_HEADS.c.last_id, _HEADS.c.last_hash)
         .where(_HEADS.c.id == HEAD_ID).with_for_update())
_ADD = insert(_EVENTS)
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.id == HEAD_ID)

ALLOWED = "allowed"
DENIED = "denied"


def event_hash(event: AuditEvent) -> str:
    """The hash of an event's content and of the link before it."""
    content = [
        event.id,
        event.at.isoformat(timespec="microseconds"),
        event.actor_user_id,
        event.action,
        event.outcome,
        event.patient_id,
        event.target,
        event.source,
        event.prev_hash,
    ]
    canonical = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session,
    *,
    at: datetime,
    actor_user_id: int | None,
    action: str,
    outcome: str = ALLOWED,
    patient_id: int | None = None,
    target: str | None = None,
    source: str | None = None,
) -> AuditEvent:
    """Add one event to the chain inside the caller's transaction.

    The head row is locked until the transaction ends, so concurrent appenders queue and the
    chain stays a single line (on SQLite the write lock already does this).
    """
    return append_each(session, at=at, actor_user_id=actor_user_id, action=action,
                       outcome=outcome, patient_ids=[patient_id], target=target,
                       source=source)[0]


def append_each(
    session: Session,
    *,
    at: datetime,
    actor_user_id: int | None,
    action: str,
    patient_ids: Sequence[int | None],
    outcome: str = ALLOWED,
    target: str | None = None,
    source: str | None = None,
) -> list[AuditEvent]:
    """One event per patient id, chained in order, in three statements however many there are
    (a panel page audits each patient it shows)."""
    last_id, last_hash = session.execute(_HEAD).one()
    events = []
    for patient_id in patient_ids:
        event = AuditEvent(
            id=last_id + 1,
            at=utc_naive(at),
            actor_user_id=actor_user_id,
            action=action,
            outcome=outcome,
            patient_id=patient_id,
            target=target,
            source=source[:100] if source else source,
            prev_hash=last_hash,
        )
        event.hash = event_hash(event)
        events.append(event)
        last_id, last_hash = event.id, event.hash
    if events:
        session.execute(_ADD, [{column: getattr(e, column) for column in _COLUMNS}
                               for e in events])
        session.execute(_MOVE_HEAD, {"last_id": last_id, "last_hash": last_hash})
    return events


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    problem: str | None = None
    first_bad_id: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "events": self.events, "head_hash": self.head_hash,
                "problem": self.problem, "first_bad_id": self.first_bad_id}


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the whole log and report the first place where it was tampered with."""
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return ChainReport(False, 0, GENESIS_HASH, "the audit head is missing")
    expected_id, prev_hash, count = 1, GENESIS_HASH, 0
    events = session.execute(select(AuditEvent).order_by(AuditEvent.id)
                             .execution_options(yield_per=batch)).scalars()
    for event in events:
        problem = _link_problem(event, expected_id, prev_hash)
        if problem:
            return ChainReport(False, count, head.last_hash, problem, event.id)
        expected_id, prev_hash, count = event.id + 1, event.hash, count + 1
    if (head.last_id, head.last_hash) != (expected_id - 1, prev_hash):
        return ChainReport(False, count, head.last_hash,
                           "the head does not point at the last event", expected_id)
    return ChainReport(True, count, head.last_hash)


def _link_problem(event: AuditEvent, expected_id: int, prev_hash: str) -> str | None:
    if event.id != expected_id:
        return f"event {expected_id} is missing"
    if event.prev_hash != prev_hash:
        return "the link to the previous event is broken"
    if event_hash(event) != event.hash:
        return "the event's content does not match its hash"
    return None
