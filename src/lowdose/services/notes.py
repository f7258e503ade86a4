"""Clinicians' notes on a patient's record (issue 5).

A note is free text a care-team clinician writes beside the record ("called, dreams settling,
keep 3 mg"). Notes are appended, never edited, and every read and write is audited like the
rest of the record. The note text is never logged or put in an audit event: the event names
the note by id only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lowdose.security.policy import PatientAction
from lowdose.services._access import patient_access
from lowdose.services._checks import text
from lowdose.services.context import Context
from lowdose.store.db import Database
from lowdose.store.models import ClinicianNote, User

MAX_NOTE = 5000


@dataclass(frozen=True)
class NoteView:
    id: int
    patient_id: int
    text: str
    created_at: datetime  # naive UTC
    created_by: int
    author: str  # the writer's display name (or username) as it reads now

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id, "text": self.text,
                "created_at": self.created_at.isoformat() + "Z",
                "created_by": self.created_by, "author": self.author}


def add_note(db: Database, ctx: Context, patient_id: int, note: str) -> NoteView:
    """Append a note. Only a clinician on the care team may: the policy's prescribing right
    is the one held by exactly the people who write clinical notes on a record."""
    body = text("note", note, max_length=MAX_NOTE)
    with patient_access(db, ctx, patient_id, PatientAction.PRESCRIBE, "note.add",
                        write=True) as access:
        row = ClinicianNote(patient_id=patient_id, text=body, created_at=ctx.at,
                            created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("note", row.id)
        author = access.session.get(User, row.created_by)
        return _view(row, author)


def list_notes(db: Database, ctx: Context, patient_id: int) -> list[NoteView]:
    """Every note on the record, newest first (whoever may read the record may read them)."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "note.list") as access:
        rows = access.session.execute(
            select(ClinicianNote, User)
            .join(User, User.id == ClinicianNote.created_by)
            .where(ClinicianNote.patient_id == patient_id)
            .order_by(ClinicianNote.created_at.desc(), ClinicianNote.id.desc())).all()
        return [_view(note, author) for note, author in rows]


def _view(row: ClinicianNote, author: User | None) -> NoteView:
    name = (author.display_name or author.username) if author else "unknown"
    return NoteView(row.id, row.patient_id, row.text, row.created_at, row.created_by, name)
