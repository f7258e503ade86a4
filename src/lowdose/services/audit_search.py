"""Searching the audit log (the admin pages): who did what, when, from where, within a clinic.

Only identifiers are shown (the log holds no clinical values). A clinic admin sees events of
their clinic's users and patients; the search itself is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, or_, select

from lowdose.errors import InputError
from lowdose.security import audit
from lowdose.security.policy import ClinicAction, authorize_clinic
from lowdose.services.context import Context
from lowdose.services.errors import Forbidden
from lowdose.store.db import Database
from lowdose.store.models import AuditEvent, Patient, User

MAX_PAGE = 200


@dataclass(frozen=True)
class AuditQuery:
    """What to look for; every field narrows the search (None: any)."""

    action: str | None = None  # a prefix: "checkin" finds checkin.record and checkin.list
    username: str | None = None
    record: int | None = None  # a patient record id
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise InputError("to", "must not be before from")
        if self.action is not None and len(self.action) > 64:
            raise InputError("action", "must be at most 64 characters")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # naive UTC
    username: str | None
    action: str
    outcome: str
    patient_id: int | None
    target: str | None
    source: str | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "at": self.at.isoformat() + "Z", "username": self.username,
                "action": self.action, "outcome": self.outcome, "patient_id": self.patient_id,
                "target": self.target, "source": self.source}


def search_audit_log(db: Database, ctx: Context, clinic_id: int, query: AuditQuery, *,
                     limit: int = 50, offset: int = 0) -> list[AuditEntry]:
    """Events of `clinic_id`'s users and patients matching `query`, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise InputError("offset", "must not be negative")
    if not authorize_clinic(ctx.actor, ClinicAction.READ_AUDIT, clinic_id):
        raise Forbidden("not allowed: read the audit log")
    with db.transaction() as session:
        names = {row.id: row.username for row in session.execute(
            select(User.id, User.username).where(User.clinic_id == clinic_id))}
        statement = _narrowed(select(AuditEvent), clinic_id, query, names)
        rows = session.scalars(statement.order_by(AuditEvent.id.desc())
                               .limit(limit).offset(offset)).all()
        audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id,
                     action="audit.search", target=f"clinic:{clinic_id}", source=ctx.source)
        return [AuditEntry(r.id, r.at, names.get(r.actor_user_id) if r.actor_user_id else None,
                           r.action, r.outcome, r.patient_id, r.target, r.source)
                for r in rows]


def _narrowed(statement: Select[Any], clinic_id: int, query: AuditQuery,
              names: dict[int, str]) -> Select[Any]:
    clinic_patients = select(Patient.id).where(Patient.clinic_id == clinic_id)
    statement = statement.where(or_(AuditEvent.actor_user_id.in_(list(names)),
                                    AuditEvent.patient_id.in_(clinic_patients)))
    if query.action:
        statement = statement.where(AuditEvent.action.startswith(query.action.strip(),
                                                                 autoescape=True))
    if query.username:
        wanted = query.username.strip().casefold()
        ids = [user_id for user_id, name in names.items() if name == wanted]
        statement = statement.where(AuditEvent.actor_user_id.in_(ids))
    if query.record is not None:
        statement = statement.where(AuditEvent.patient_id == query.record)
    if query.outcome:
        statement = statement.where(AuditEvent.outcome == query.outcome)
    if query.date_from:
        statement = statement.where(AuditEvent.at >= datetime.combine(query.date_from, time()))
    if query.date_to:
        end = datetime.combine(query.date_to + timedelta(days=1), time())
        statement = statement.where(AuditEvent.at < end)
    return statement
