"""The patient's calendar: dose reminders by titration step, the pre-operative hold, refills
(`lowdose.interop.calendar` writes the iCalendar), and the secret feed URLs calendar apps
subscribe to.

A feed URL is a bearer secret: 256 random bits shown once, only its SHA-256 stored (like API
tokens). Reading a feed is reading the record *as the user who made the feed*: the policy
decides that read like any other, so a feed stops working when it is revoked, when its maker
is disabled, or when the maker loses access to the patient. Every read is audited with the
feed as its target; an unknown or revoked token is audited as refused and answers "not found".
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select

from lowdose.core.titration import Step
from lowdose.errors import InputError
from lowdose.interop.calendar import (
    ComparisonDay,
    CoursePlans,
    PlanVersionSteps,
    Refill,
    Surgery,
    schedule,
    to_calendar,
)
from lowdose.knowledge.regimens import load_perioperative_facts
from lowdose.security import audit
from lowdose.security.policy import Actor, PatientAction
from lowdose.services import nof1
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import UNSET, Unset, optional_text
from lowdose.services.accounts import actor_of
from lowdose.services.context import Context
from lowdose.services.errors import NotFound, ServiceError
from lowdose.services.procedures import planned_procedures
from lowdose.services.supplies import latest_supply
from lowdose.store.db import Database
from lowdose.store.models import CalendarFeed, CalendarPreference, LdnCourse, PlanVersion, User

MEDIA_TYPE = "text/calendar; charset=utf-8"
# The prefix tells secret scanners (and people) what a leaked string is.
FEED_PREFIX = "ldc_"
NO_SUPPLY = ("No refill reminders: the record holds no supply data (quantity dispensed), so "
             "no refill date can be worked out.")


# -------------------------------------------------------------------------- preferences


@dataclass(frozen=True)
class Preferences:
    patient_id: int
    timezone: str | None  # None: floating local times
    medicine_names: bool

    def to_dict(self) -> dict[str, object]:
        return {"patient_id": self.patient_id, "timezone": self.timezone,
                "medicine_names": self.medicine_names}


def get_preferences(db: Database, ctx: Context, patient_id: int) -> Preferences:
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "calendar.preferences.read") as access:
        return _preferences(access)


def set_preferences(db: Database, ctx: Context, patient_id: int, *,
                    timezone: str | Unset | None = UNSET,
                    medicine_names: bool | Unset = UNSET) -> Preferences:
    """Change the time zone and/or the opt-in to name the medicine in descriptions (the patient
    or their clinician, as for the profile)."""
    zone = timezone if isinstance(timezone, Unset) else check_timezone(timezone)
    if not isinstance(medicine_names, Unset | bool):
        raise InputError("medicine_names", "must be true or false")
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROFILE,
                        "calendar.preferences.write", write=True) as access:
        row = access.session.get(CalendarPreference, patient_id)
        if row is None:
            row = CalendarPreference(patient_id=patient_id, timezone=None,
                                     medicine_names=False)
            access.session.add(row)
        if not isinstance(zone, Unset):
            row.timezone = zone
        if not isinstance(medicine_names, Unset):
            row.medicine_names = medicine_names
        row.updated_at, row.updated_by = ctx.at, ctx.actor.user_id
        access.session.flush()
        return _preferences(access)


def check_timezone(name: str | None) -> str | None:
    """An IANA time zone name such as "Europe/Berlin" (None or blank: no zone)."""
    if name is None or not name.strip():
        return None
    cleaned = name.strip()
    # Checked against the list, never opened as given: a zone name is a path under tzdata.
    if cleaned not in available_timezones():
        raise InputError("timezone", f"{name[:64]!r} is not an IANA time zone name such as "
                                     f"'Europe/Berlin' or 'America/New_York'")
    return cleaned


def _preferences(access: Access) -> Preferences:
    row = access.session.get(CalendarPreference, access.patient.id)
    if row is None:
        return Preferences(access.patient.id, None, False)
    return Preferences(access.patient.id, row.timezone, row.medicine_names)


# ------------------------------------------------------------------------------- export


@dataclass(frozen=True)
class CalendarFile:
    ics: bytes
    notes: tuple[str, ...]  # what the calendar leaves out, and why


def export_calendar(db: Database, ctx: Context, patient_id: int, *,
                    hold_hours: float | None = None) -> CalendarFile:
    """The patient's calendar as an .ics file (reading the record)."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "calendar.export") as access:
        record = _gather(access)
    return _render(record, _comparison_days(db, ctx, patient_id), ctx.now, hold_hours)


@dataclass(frozen=True)
class _Record:
    """What the calendar needs from the record, read in the use case's transaction."""

    preferences: Preferences
    courses: list[CoursePlans]
    surgeries: list[Surgery]
    refills: list[Refill]
    refill_notes: tuple[str, ...]  # why there is no refill reminder, when there is none


def _gather(access: Access) -> _Record:
    # Procedures that may need opioids get the hold, exactly as the screen decides it.
    surgeries = [Surgery(p.id, p.name, p.at) for p in planned_procedures(access)
                 if not p.cancelled and p.may_need_opioids]
    refills, refill_notes = _refills(access)
    return _Record(_preferences(access), _course_plans(access), surgeries, refills,
                   refill_notes)


def _comparison_days(db: Database, ctx: Context, patient_id: int) -> list[ComparisonDay]:
    """The days of the patient's n-of-1 comparisons (their own audited read, after ours: it
    opens its own transaction)."""
    return [ComparisonDay(day.date, day.dose_mg, day.dose_time, day.arm)
            for day in nof1.schedule(db, ctx, patient_id)]


def _render(record: _Record, comparison: list[ComparisonDay], now: datetime,
            hold_hours: float | None) -> CalendarFile:
    prefs, facts = record.preferences, load_perioperative_facts()
    zone = ZoneInfo(prefs.timezone) if prefs.timezone else None
    local_now = (now.astimezone(zone) if zone and now.tzinfo else now).replace(tzinfo=None)
    notes = record.refill_notes
    plan = schedule(record.courses, record.surgeries, record.refills,
                    hold_hours=facts.default_hold_hours if hold_hours is None else hold_hours,
                    as_of=local_now, facts=facts, comparison=comparison, zone=zone)
    calendar = to_calendar(plan, stamp=now, timezone=prefs.timezone,
                           medicine_names=prefs.medicine_names, notes=notes)
    return CalendarFile(calendar.to_ical(), (*plan.notes, *notes))


def _refills(access: Access) -> tuple[list[Refill], tuple[str, ...]]:
    """The refill-by date of the supply in use, or why there is none (no supply on the
    record, or no dose to count it down with): said, never guessed."""
    supply = latest_supply(access)
    if supply is None:
        return [], (NO_SUPPLY,)
    if supply.refill_by is None:
        return [], supply.notes[:1]
    return [Refill(f"supply-{supply.id}", supply.refill_by)], ()


def _course_plans(access: Access) -> list[CoursePlans]:
    session = access.session
    courses = session.scalars(select(LdnCourse).where(LdnCourse.patient_id == access.patient.id)
                              .order_by(LdnCourse.started_on, LdnCourse.id)).all()
    versions = session.scalars(select(PlanVersion)
                               .where(PlanVersion.course_id.in_([c.id for c in courses]))
                               .order_by(PlanVersion.course_id, PlanVersion.version)).all()
    return [CoursePlans(c.id, c.started_on, c.ended_on,
                        tuple(PlanVersionSteps(v.version, _steps(v.plan))
                              for v in versions if v.course_id == c.id))
            for c in courses]


def _steps(stored: dict[str, Any]) -> tuple[Step, ...]:
    """The dated steps of a stored plan (`Plan.to_dict()`) back as core steps."""
    return tuple(
        Step(number=int(s["step"]), start=date.fromisoformat(s["from"]),
             end=date.fromisoformat(s["to"]) if s.get("to") else None,
             dose_mg=float(s["dose_mg"]),
             dose_ml=float(s["dose_ml"]) if s.get("dose_ml") is not None else None,
             time=time.fromisoformat(s["time"]), note=s.get("note"))
        for s in stored.get("steps", ()))


# -------------------------------------------------------------------------------- feeds


@dataclass(frozen=True)
class FeedView:
    """A feed as listed: never its token."""

    id: int
    patient_id: int
    label: str | None
    created_at: datetime  # naive UTC
    created_by: int
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "patient_id": self.patient_id, "label": self.label,
                "created_at": _utc(self.created_at), "created_by": self.created_by,
                "last_used_at": _utc(self.last_used_at), "revoked_at": _utc(self.revoked_at),
                "active": self.revoked_at is None}


@dataclass(frozen=True)
class NewFeed:
    """A feed just made; `token` is shown this once and cannot be recovered."""

    feed: FeedView
    token: str

    def to_dict(self) -> dict[str, object]:
        return {**self.feed.to_dict(), "token": self.token}


def create_feed(db: Database, ctx: Context, patient_id: int, *,
                label: str | None = None) -> NewFeed:
    """A new secret feed URL token for the patient's calendar (the patient or their
    clinician, who may change the record)."""
    named = optional_text("label", label, max_length=100)
    if ctx.actor.user_id is None:
        raise InputError("actor", "a feed belongs to a user; the operator cannot make one")
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROFILE,
                        "calendar.feed.create", write=True) as access:
        token = FEED_PREFIX + secrets.token_urlsafe(32)
        row = CalendarFeed(patient_id=patient_id, token_hash=feed_hash(token), label=named,
                           created_at=ctx.at, created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("calendar-feed", row.id)
        return NewFeed(_feed_view(row), token)


def list_feeds(db: Database, ctx: Context, patient_id: int) -> list[FeedView]:
    """The patient's feeds, newest first, revoked ones included (with when)."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "calendar.feed.list") as access:
        rows = access.session.scalars(select(CalendarFeed)
                                      .where(CalendarFeed.patient_id == patient_id)
                                      .order_by(CalendarFeed.id.desc())).all()
        return [_feed_view(row) for row in rows]


def revoke_feed(db: Database, ctx: Context, patient_id: int, feed_id: int) -> FeedView:
    """Stop a feed for good (idempotent); its URL answers 404 from now on."""
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_PROFILE,
                        "calendar.feed.revoke", write=True) as access:
        row = access.session.get(CalendarFeed, feed_id)
        if row is None or row.patient_id != patient_id:
            raise NotFound("calendar feed", feed_id)
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = ctx.at, ctx.actor.user_id
        access.point_at("calendar-feed", row.id)
        return _feed_view(row)


def read_feed(db: Database, token: str, *, now: datetime, source: str | None = None,
              hold_hours: float | None = None) -> CalendarFile:
    """The calendar behind a feed token, read as the feed's maker; NotFound for a token that
    is unknown, revoked, or whose maker may no longer read the record."""
    found = _find_feed(db, token)
    if found is None or found.maker is None:
        with db.transaction() as session:
            audit.append(session, at=now, actor_user_id=None, action="calendar.feed.read",
                         outcome=audit.DENIED, source=source,
                         patient_id=found.patient_id if found else None,
                         target=f"calendar-feed:{found.id}" if found else None)
        raise NotFound("calendar feed", "behind this address")
    ctx = Context(actor=found.maker, now=now, source=source)
    try:
        with patient_access(db, ctx, found.patient_id, PatientAction.READ_RECORD,
                            "calendar.feed.read", write=True) as access:
            row = access.session.get(CalendarFeed, found.id)
            if row is None or row.revoked_at is not None:  # revoked a moment ago
                raise NotFound("calendar feed", "behind this address")
            row.last_used_at = ctx.at
            access.point_at("calendar-feed", found.id)
            record = _gather(access)
        comparison = _comparison_days(db, ctx, found.patient_id)
    except ServiceError:
        # Whatever the reason (a refused maker is audited by patient_access), the address
        # says no more than "nothing here".
        raise NotFound("calendar feed", "behind this address") from None
    return _render(record, comparison, now, hold_hours)


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _FoundFeed:
    id: int
    patient_id: int
    maker: Actor | None  # None: the feed is revoked or its maker disabled


def _find_feed(db: Database, token: str) -> _FoundFeed | None:
    if not token.startswith(FEED_PREFIX) or len(token) > 100:
        return None
    with db.transaction(write=False) as session:
        row = session.scalar(select(CalendarFeed)
                             .where(CalendarFeed.token_hash == feed_hash(token)))
        if row is None:
            return None
        maker = session.get(User, row.created_by)
        usable = row.revoked_at is None and maker is not None and maker.active
        return _FoundFeed(row.id, row.patient_id,
                          actor_of(maker) if usable and maker is not None else None)


def _feed_view(row: CalendarFeed) -> FeedView:
    return FeedView(row.id, row.patient_id, row.label, row.created_at, row.created_by,
                    row.last_used_at, row.revoked_at)


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"
