"""Daily check-ins (design §3.4): dose taken, 0–10 ratings, side effects (severity 0–3), note.

One check-in per patient per date. Sending another for the same date replaces it and the
earlier version stays in the history. A client may send an idempotency key: a retry with the
same key and body returns what the first request stored and writes nothing; the same key with
another body is a conflict.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from lowdose.core.diary import SideEffect
from lowdose.errors import InputError
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import code
from lowdose.services._panel_status import refresh_status
from lowdose.services.context import Context
from lowdose.services.errors import Conflict, NotFound
from lowdose.store.db import Database
from lowdose.store.models import Checkin, CheckinVersion, IdempotencyKey

# The scales of design §3.4.
RATING_RANGE = (0, 10)
SEVERITY_RANGE = (0, 3)
MAX_RATINGS = 30
MAX_SIDE_EFFECTS = 30
MAX_NOTE = 4000
MAX_NAME = 100
# A whole 50 mg tablet is naltrexone's licensed dose: a diary entry above it is a slip.
MAX_DOSE_MG = 50.0
# Dates before this are slips too (and far-off dates break the date arithmetic of analyses).
FIRST_DATE = date(1900, 1, 1)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, as in HTTP header values
_FIELDS = {"date", "dose_taken", "dose_mg", "dose_time", "ratings", "side_effects", "note"}


@dataclass(frozen=True)
class CheckinInput:
    """One day's check-in as sent by a client; `from_dict` reads the §3.4 JSON."""

    date: date
    dose_taken: bool | None = None
    dose_mg: float | None = None
    dose_time: time | None = None
    ratings: Mapping[str, int] = field(default_factory=dict)
    side_effects: tuple[SideEffect, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        _check_dose(self.dose_taken, self.dose_mg, self.dose_time)
        _check_ratings(self.ratings)
        _check_side_effects(self.side_effects)
        if self.note is not None and len(self.note) > MAX_NOTE:
            raise InputError("note", f"must be at most {MAX_NOTE} characters")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckinInput:
        """Parse the JSON body; unknown fields are an error, each error names its field."""
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise InputError(unknown[0], "is not a check-in field")
        entry = cls(
            date=_parse(data, "date", date.fromisoformat, required=True),
            dose_taken=_typed(data, "dose_taken", bool),
            dose_mg=_number(data, "dose_mg"),
            dose_time=_parse(data, "dose_time", time.fromisoformat),
            ratings=_ratings(data.get("ratings", {})),
            side_effects=_side_effects(data.get("side_effects", [])),
            note=_typed(data, "note", str),
        )
        # Checked on what is sent, not on what is read back: rows stored before these limits
        # stay readable.
        if entry.date < FIRST_DATE:
            raise InputError("date", f"must be on or after {FIRST_DATE.isoformat()}")
        if entry.dose_mg is not None and entry.dose_mg > MAX_DOSE_MG:
            raise InputError("dose_mg", f"must be at most {MAX_DOSE_MG:g} mg (a whole "
                                        f"naltrexone tablet); check the dose")
        return entry

    def to_dict(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(), "dose_taken": self.dose_taken,
            "dose_mg": self.dose_mg,
            "dose_time": _clock(self.dose_time),
            "ratings": dict(sorted(self.ratings.items())),
            "side_effects": [s.to_dict() for s in self.side_effects], "note": self.note,
        }


@dataclass(frozen=True)
class CheckinView(CheckinInput):
    """A stored check-in (or one version of it)."""

    id: int = 0
    patient_id: int = 0
    version: int = 0
    recorded_at: datetime = datetime.min  # naive UTC; when this version was stored

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id, **super().to_dict(),
                "version": self.version, "recorded_at": self.recorded_at.isoformat() + "Z"}


@dataclass(frozen=True)
class RecordedCheckin:
    """What `record_checkin` did: `created` a new date, or updated it; `replayed` a retry."""

    checkin: CheckinView
    created: bool
    replayed: bool = False


def record_checkin(db: Database, ctx: Context, patient_id: int, entry: CheckinInput, *,
                   idempotency_key: str | None = None) -> RecordedCheckin:
    """Store the check-in for `entry.date`, replacing (and keeping) an earlier one."""
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise InputError("Idempotency-Key", "must be 1–255 printable ASCII characters")
    if entry.date > ctx.now.date() + timedelta(days=1):
        raise InputError("date", "must not be in the future")
    with patient_access(db, ctx, patient_id, PatientAction.RECORD_CHECKIN, "checkin.record",
                        write=True) as access:
        fingerprint = _fingerprint(patient_id, entry)
        replay = _replay(access, idempotency_key, fingerprint)
        if replay is not None:
            return RecordedCheckin(replay, created=False, replayed=True)
        checkin, created = _store(access, entry)
        if idempotency_key is not None:
            _remember_key(access, idempotency_key, fingerprint, checkin)
        # The clinician panel's line for this patient, in the same transaction (issue 4).
        refresh_status(access.session, patient_id=patient_id,
                       clinic_id=access.patient.clinic_id, today=ctx.now.date(), at=ctx.at)
        return RecordedCheckin(checkin, created=created)


def list_checkins(db: Database, ctx: Context, patient_id: int, *,
                  date_from: date | None = None,
                  date_to: date | None = None) -> list[CheckinView]:
    """Current check-ins between the dates (inclusive), oldest first."""
    if date_from and date_to and date_to < date_from:
        raise InputError("to", "must not be before from")
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "checkin.list") as access:
        query = select(Checkin).where(Checkin.patient_id == patient_id)
        if date_from is not None:
            query = query.where(Checkin.date >= date_from)
        if date_to is not None:
            query = query.where(Checkin.date <= date_to)
        rows = access.session.scalars(query.order_by(Checkin.date)).all()
        return [_view(row) for row in rows]


def checkin_history(db: Database, ctx: Context, patient_id: int,
                    day: date) -> list[CheckinView]:
    """Every version of the check-in for `day`, first to last."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "checkin.history") as access:
        checkin = access.session.scalar(select(Checkin).where(
            Checkin.patient_id == patient_id, Checkin.date == day))
        if checkin is None:
            raise NotFound("check-in", day.isoformat())
        access.point_at("checkin", checkin.id)
        versions = access.session.scalars(select(CheckinVersion)
                                          .where(CheckinVersion.checkin_id == checkin.id)
                                          .order_by(CheckinVersion.version)).all()
        return [_version_view(checkin, v) for v in versions]


# --------------------------------------------------------------------------- storing


# The write path runs while SQLite's write lock is held, so it uses prepared Core statements
# (compiled once, no unit of work) rather than ORM objects.
_CHECKINS = cast(Table, Checkin.__table__)
_VERSIONS = cast(Table, CheckinVersion.__table__)
_KEYS = cast(Table, IdempotencyKey.__table__)
_FIND = select(_CHECKINS).where(_CHECKINS.c.patient_id == bindparam("patient"),
                                _CHECKINS.c.date == bindparam("day"))
_ADD = insert(_CHECKINS).returning(_CHECKINS.c.id)
_CHANGE = update(_CHECKINS).where(_CHECKINS.c.id == bindparam("checkin"))
_ADD_VERSION = insert(_VERSIONS)
_VERSION = select(_VERSIONS).where(_VERSIONS.c.checkin_id == bindparam("checkin"),
                                   _VERSIONS.c.version == bindparam("number"))
_FIND_KEY = select(_KEYS).where(_KEYS.c.user_id == bindparam("user"),
                                _KEYS.c.key == bindparam("idempotency_key"))
_ADD_KEY = insert(_KEYS)


def _store(access: Access, entry: CheckinInput) -> tuple[CheckinView, bool]:
    session, at, patient_id = access.session, access.ctx.at, access.patient.id
    row = session.execute(_FIND, {"patient": patient_id, "day": entry.date}).one_or_none()
    values = _columns(entry)
    if row is not None and _stored_columns(row) == values:
        # The same check-in sent again without a key: nothing changed, no new version.
        access.point_at("checkin", f"{row.id}@{row.version}")
        return _view(row), False
    version = 1 if row is None else row.version + 1
    if row is None:
        checkin_id = session.execute(_ADD, {"patient_id": patient_id, "date": entry.date,
                                            "version": version, "created_at": at,
                                            "updated_at": at, **values}).scalar_one()
    else:
        checkin_id = row.id
        session.execute(_CHANGE, {"checkin": checkin_id, "version": version,
                                  "updated_at": at, **values})
    session.execute(_ADD_VERSION, {"checkin_id": checkin_id, "version": version,
                                   "recorded_at": at,
                                   "recorded_by": access.ctx.actor.user_id, **values})
    access.point_at("checkin", f"{checkin_id}@{version}")
    stored = CheckinView(**_input_fields(entry), id=checkin_id, patient_id=patient_id,
                         version=version, recorded_at=at)
    return stored, row is None


def _remember_key(access: Access, key: str, fingerprint: str, stored: CheckinView) -> None:
    access.session.execute(_ADD_KEY, {
        "user_id": _key_owner(access.ctx), "key": key, "request_hash": fingerprint,
        "resource": "checkin", "resource_id": stored.id, "resource_version": stored.version,
        "created_at": access.ctx.at})


def _replay(access: Access, key: str | None, fingerprint: str) -> CheckinView | None:
    if key is None:
        return None
    session = access.session
    stored = session.execute(_FIND_KEY, {"user": _key_owner(access.ctx),
                                         "idempotency_key": key}).one_or_none()
    if stored is None:
        return None
    if stored.request_hash != fingerprint or stored.resource != "checkin":
        raise Conflict("this Idempotency-Key was already used for a different request")
    checkin = session.get(Checkin, stored.resource_id)
    version = session.execute(_VERSION, {"checkin": stored.resource_id,
                                         "number": stored.resource_version}).one()
    assert checkin is not None
    access.point_at("checkin", f"{checkin.id}@{version.version}")
    return _version_view(checkin, version)


def _key_owner(ctx: Context) -> int:
    # Keys belong to the signed-in user; the policy never lets the operator write check-ins.
    assert ctx.actor.user_id is not None
    return ctx.actor.user_id


def _fingerprint(patient_id: int, entry: CheckinInput) -> str:
    canonical = json.dumps([patient_id, entry.to_dict()], sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _columns(entry: CheckinInput) -> dict[str, Any]:
    return {"dose_taken": entry.dose_taken, "dose_mg": entry.dose_mg,
            "dose_time": entry.dose_time, "ratings": dict(sorted(entry.ratings.items())),
            "side_effects": [s.to_dict() for s in entry.side_effects], "note": entry.note}


def _input_fields(entry: CheckinInput) -> dict[str, Any]:
    return {"date": entry.date, "dose_taken": entry.dose_taken, "dose_mg": entry.dose_mg,
            "dose_time": entry.dose_time, "ratings": dict(sorted(entry.ratings.items())),
            "side_effects": entry.side_effects, "note": entry.note}


def _stored_columns(row: Any) -> dict[str, Any]:
    return {"dose_taken": row.dose_taken, "dose_mg": row.dose_mg, "dose_time": row.dose_time,
            "ratings": row.ratings, "side_effects": row.side_effects, "note": row.note}


def _view(row: Any) -> CheckinView:
    """A check-in from a `checkins` row (ORM object or Core row)."""
    return CheckinView(
        date=row.date, dose_taken=row.dose_taken, dose_mg=row.dose_mg, dose_time=row.dose_time,
        ratings=dict(row.ratings), side_effects=_stored_effects(row.side_effects),
        note=row.note, id=row.id, patient_id=row.patient_id, version=row.version,
        recorded_at=row.updated_at)


def _version_view(checkin: Checkin, row: Any) -> CheckinView:
    return CheckinView(
        date=checkin.date, dose_taken=row.dose_taken, dose_mg=row.dose_mg,
        dose_time=row.dose_time, ratings=dict(row.ratings),
        side_effects=_stored_effects(row.side_effects), note=row.note, id=checkin.id,
        patient_id=checkin.patient_id, version=row.version, recorded_at=row.recorded_at)


def _stored_effects(rows: list[dict[str, Any]]) -> tuple[SideEffect, ...]:
    return tuple(SideEffect(str(r["name"]), int(r["severity"])) for r in rows)


# --------------------------------------------------------------------------- checking


def _clock(moment: time | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat("minutes" if not (moment.second or moment.microsecond) else "auto")


def _check_dose(taken: bool | None, dose_mg: float | None, dose_time: time | None) -> None:
    if dose_mg is not None and (not math.isfinite(dose_mg) or dose_mg <= 0):
        raise InputError("dose_mg", "must be a positive number of milligrams")
    if taken is False and (dose_mg is not None or dose_time is not None):
        raise InputError("dose_taken", "is false, so leave dose_mg and dose_time out")
    if dose_time is not None and dose_time.tzinfo is not None:
        raise InputError("dose_time", "give the local clock time without a time zone")


def _check_ratings(ratings: Mapping[str, int]) -> None:
    if len(ratings) > MAX_RATINGS:
        raise InputError("ratings", f"at most {MAX_RATINGS} ratings")
    low, high = RATING_RANGE
    for name, value in ratings.items():
        code(f"ratings.{name}", name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InputError(f"ratings.{name}", f"must be a whole number from {low} to {high}")


def _check_side_effects(effects: tuple[SideEffect, ...]) -> None:
    if len(effects) > MAX_SIDE_EFFECTS:
        raise InputError("side_effects", f"at most {MAX_SIDE_EFFECTS} side effects")
    low, high = SEVERITY_RANGE
    for i, effect in enumerate(effects):
        if not effect.name.strip() or len(effect.name) > MAX_NAME:
            raise InputError(f"side_effects.{i}.name", f"must be 1–{MAX_NAME} characters")
        severity = effect.severity
        if isinstance(severity, bool) or not isinstance(severity, int) or not (
                low <= severity <= high):
            raise InputError(f"side_effects.{i}.severity",
                             f"must be a whole number from {low} to {high}")


_KINDS = {bool: "must be true or false", str: "must be text"}


def _typed(data: Mapping[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if value is not None and not isinstance(value, kind):
        raise InputError(name, _KINDS.get(kind, f"must be a {kind.__name__}"))
    return value


def _number(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, "must be a number")
    return float(value)


def _parse(data: Mapping[str, Any], name: str, parse: Any, *, required: bool = False) -> Any:
    value = data.get(name)
    if value is None:
        if required:
            raise InputError(name, "is required")
        return None
    if not isinstance(value, str):
        raise InputError(name, "must be an ISO 8601 string")
    try:
        return parse(value)
    except ValueError:
        raise InputError(name, f"{value!r} is not a valid ISO 8601 value") from None


def _ratings(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InputError("ratings", "must be an object of name: 0–10")
    return {str(k): v for k, v in value.items()}


def _side_effects(value: Any) -> tuple[SideEffect, ...]:
    if not isinstance(value, list):
        raise InputError("side_effects", "must be a list")
    effects = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"name", "severity"}:
            raise InputError(f"side_effects.{i}", "must be {name, severity}")
        name = item.get("name")
        if not isinstance(name, str):
            raise InputError(f"side_effects.{i}.name", "must be text")
        effects.append(SideEffect(name.strip(), item.get("severity")))  # type: ignore[arg-type]
    return tuple(effects)
