"""Planned procedures (surgery, scans, dental work): the perioperative hold of LDN and the
screen read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from lowdose.errors import InputError
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import local_time, text
from lowdose.services.context import Context
from lowdose.services.errors import NotFound
from lowdose.store.db import Database
from lowdose.store.models import Procedure


@dataclass(frozen=True)
class ProcedureView:
    id: int
    patient_id: int
    name: str
    at: datetime  # local wall-clock time
    opioids_expected: bool | None  # None: not known
    cancelled: bool

    @property
    def may_need_opioids(self) -> bool:
        """Does the LDN hold apply? Only a clear "no opioids" says not: lowdose errs towards
        the hold and asking the clinician."""
        return self.opioids_expected is not False

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id, "name": self.name,
                "at": self.at.isoformat(timespec="minutes"),
                "opioids_expected": self.opioids_expected, "cancelled": self.cancelled}


def add_procedure(db: Database, ctx: Context, patient_id: int, *, name: str, at: datetime,
                  opioids_expected: bool | None = None) -> ProcedureView:
    named = text("name", name, max_length=200)
    if local_time("at", at) is None:
        raise InputError("at", "is required")
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROCEDURES, "procedure.add",
                        write=True) as access:
        row = Procedure(patient_id=patient_id, name=named, at=at,
                        opioids_expected=opioids_expected, created_at=ctx.at,
                        created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("procedure", row.id)
        return _view(row)


def cancel_procedure(db: Database, ctx: Context, patient_id: int,
                     procedure_id: int) -> ProcedureView:
    """Mark a procedure cancelled; it stays on the record."""
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROCEDURES,
                        "procedure.cancel", write=True) as access:
        row = access.session.get(Procedure, procedure_id)
        if row is None or row.patient_id != patient_id:
            raise NotFound("procedure", procedure_id)
        if row.cancelled_at is None:
            row.cancelled_at = ctx.at
        access.point_at("procedure", row.id)
        return _view(row)


def list_procedures(db: Database, ctx: Context, patient_id: int, *,
                    include_cancelled: bool = False) -> list[ProcedureView]:
    """Procedures by date, cancelled ones only when asked for."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "procedure.list") as access:
        return [p for p in planned_procedures(access) if include_cancelled or not p.cancelled]


def planned_procedures(access: Access) -> list[ProcedureView]:
    """All of the authorized patient's procedures by date (for other use cases)."""
    rows = access.session.scalars(select(Procedure)
                                  .where(Procedure.patient_id == access.patient.id)
                                  .order_by(Procedure.at, Procedure.id)).all()
    return [_view(row) for row in rows]


def _view(row: Procedure) -> ProcedureView:
    return ProcedureView(row.id, row.patient_id, row.name, row.at, row.opioids_expected,
                         row.cancelled_at is not None)
