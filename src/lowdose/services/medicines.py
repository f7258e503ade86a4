"""The patient's medicine list: what they take besides LDN, which the safety screen reads.

Every change (adding, editing, stopping, removing an entry made in error) writes a new version;
`medicine_history` shows them all, so nobody has to wonder what the list said last week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from lowdose.errors import InputError
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import UNSET, Unset, local_time, optional_text, text
from lowdose.services.context import Context
from lowdose.services.errors import NotFound
from lowdose.store.db import Database
from lowdose.store.models import Medicine, MedicineVersion

MAX_TEXT = 500


@dataclass(frozen=True)
class MedicineView:
    id: int
    version: int
    text: str
    rxnorm: str | None
    started_on: date | None
    stopped_on: date | None
    last_taken: date | datetime | None  # a day, or a local wall-clock time when known
    removed: bool
    recorded_at: datetime  # naive UTC

    def active_on(self, day: date) -> bool:
        """Taken on `day`: not removed, started by then (or unknown), not yet stopped."""
        return (not self.removed
                and (self.started_on is None or self.started_on <= day)
                and (self.stopped_on is None or self.stopped_on >= day))

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "version": self.version, "text": self.text, "rxnorm": self.rxnorm,
            "started_on": _iso(self.started_on), "stopped_on": _iso(self.stopped_on),
            "last_taken": _iso(self.last_taken), "removed": self.removed,
            "recorded_at": self.recorded_at.isoformat() + "Z",
        }


def add_medicine(db: Database, ctx: Context, patient_id: int, *, text: str,
                 rxnorm: str | None = None, started_on: date | None = None,
                 stopped_on: date | None = None,
                 last_taken: date | datetime | None = None) -> MedicineView:
    """Add a medicine as the patient describes it (free text, brand names welcome)."""
    fields = _checked(ctx, text, rxnorm, started_on, stopped_on, last_taken)
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_MEDICINES, "medicine.add",
                        write=True) as access:
        medicine = Medicine(patient_id=patient_id, version=0, removed=False, updated_at=ctx.at,
                            **fields)
        access.session.add(medicine)
        return _new_version(access, medicine)


def update_medicine(db: Database, ctx: Context, patient_id: int, medicine_id: int, *,
                    text: str | Unset = UNSET, rxnorm: str | Unset | None = UNSET,
                    started_on: date | Unset | None = UNSET,
                    stopped_on: date | Unset | None = UNSET,
                    last_taken: date | datetime | Unset | None = UNSET) -> MedicineView:
    """Change the given fields (None clears one, UNSET leaves it); stopping a medicine is
    setting `stopped_on`."""
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_MEDICINES, "medicine.update",
                        write=True) as access:
        medicine = _medicine(access, medicine_id)
        fields = _checked(
            ctx,
            medicine.text if isinstance(text, Unset) else text,
            medicine.rxnorm if isinstance(rxnorm, Unset) else rxnorm,
            medicine.started_on if isinstance(started_on, Unset) else started_on,
            medicine.stopped_on if isinstance(stopped_on, Unset) else stopped_on,
            _last_taken(medicine) if isinstance(last_taken, Unset) else last_taken)
        for key, value in fields.items():
            setattr(medicine, key, value)
        return _new_version(access, medicine)


def remove_medicine(db: Database, ctx: Context, patient_id: int,
                    medicine_id: int) -> MedicineView:
    """Take an entry made in error off the list; its versions stay in the history."""
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_MEDICINES, "medicine.remove",
                        write=True) as access:
        medicine = _medicine(access, medicine_id)
        medicine.removed = True
        return _new_version(access, medicine)


def list_medicines(db: Database, ctx: Context, patient_id: int, *,
                   include_stopped: bool = True) -> list[MedicineView]:
    """The current list (entries removed as errors left out), oldest entry first."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "medicine.list") as access:
        return [m for m in current_medicines(access)
                if include_stopped or m.stopped_on is None]


def medicine_history(db: Database, ctx: Context, patient_id: int,
                     medicine_id: int) -> list[MedicineView]:
    """Every version of one entry, first to last."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "medicine.history") as access:
        _medicine(access, medicine_id)
        access.point_at("medicine", medicine_id)
        versions = access.session.scalars(
            select(MedicineVersion).where(MedicineVersion.medicine_id == medicine_id)
            .order_by(MedicineVersion.version)).all()
        return [_view_of_version(v) for v in versions]


def current_medicines(access: Access) -> list[MedicineView]:
    """The authorized patient's current entries (for other use cases, e.g. the screen)."""
    rows = access.session.scalars(
        select(Medicine).where(Medicine.patient_id == access.patient.id,
                               Medicine.removed.is_(False))
        .order_by(Medicine.id)).all()
    return [_view(m) for m in rows]


# ------------------------------------------------------------------------------- helpers


def _checked(ctx: Context, text_value: str, rxnorm: str | None, started_on: date | None,
             stopped_on: date | None, last_taken: date | datetime | None) -> dict[str, object]:
    described = text("text", text_value, max_length=MAX_TEXT)
    code = optional_text("rxnorm", rxnorm, max_length=16)
    if code is not None and not code.isdigit():
        raise InputError("rxnorm", "must be an RxNorm concept id (digits only)")
    if started_on and stopped_on and stopped_on < started_on:
        raise InputError("stopped_on", "must not be before started_on")
    day, clock = _split(last_taken)
    # Local wall time against the UTC clock: a day of slack covers every time zone.
    if day is not None and day > ctx.now.date() + timedelta(days=1):
        raise InputError("last_taken", "must not be in the future")
    return {"text": described, "rxnorm": code, "started_on": started_on,
            "stopped_on": stopped_on, "last_taken_on": day, "last_taken_time": clock}


def _split(last_taken: date | datetime | None) -> tuple[date | None, time | None]:
    if isinstance(last_taken, datetime):
        local_time("last_taken", last_taken)
        return last_taken.date(), last_taken.time()
    return last_taken, None


def _last_taken(row: Medicine | MedicineVersion) -> date | datetime | None:
    if row.last_taken_on is None or row.last_taken_time is None:
        return row.last_taken_on
    return datetime.combine(row.last_taken_on, row.last_taken_time)


def _medicine(access: Access, medicine_id: int) -> Medicine:
    medicine = access.session.get(Medicine, medicine_id)
    if medicine is None or medicine.patient_id != access.patient.id:
        raise NotFound("medicine", medicine_id)
    return medicine


def _new_version(access: Access, medicine: Medicine) -> MedicineView:
    medicine.version += 1
    medicine.updated_at = access.ctx.at
    access.session.flush()
    access.session.add(MedicineVersion(
        medicine_id=medicine.id, version=medicine.version, text=medicine.text,
        rxnorm=medicine.rxnorm, started_on=medicine.started_on, stopped_on=medicine.stopped_on,
        last_taken_on=medicine.last_taken_on, last_taken_time=medicine.last_taken_time,
        removed=medicine.removed, recorded_at=access.ctx.at,
        recorded_by=access.ctx.actor.user_id))
    access.point_at("medicine", f"{medicine.id}@{medicine.version}")
    return _view(medicine)


def _view(m: Medicine) -> MedicineView:
    return MedicineView(m.id, m.version, m.text, m.rxnorm, m.started_on, m.stopped_on,
                        _last_taken(m), m.removed, m.updated_at)


def _view_of_version(v: MedicineVersion) -> MedicineView:
    return MedicineView(v.medicine_id, v.version, v.text, v.rxnorm, v.started_on,
                        v.stopped_on, _last_taken(v), v.removed, v.recorded_at)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
