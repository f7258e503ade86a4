"""The safety screen of a stored record: the record becomes a screening profile (design §3.1)
and the core screen (`lowdose.core.screening.screen`) judges it, exactly as it would judge the
same profile sent to `POST /api/v1/screen`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lowdose.core.screening import LdnUse, Medication, Procedure, Profile, ScreeningResult, screen
from lowdose.errors import InputError
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services.context import Context
from lowdose.services.courses import current_plan
from lowdose.services.medicines import current_medicines
from lowdose.services.patients import load_profile
from lowdose.services.procedures import planned_procedures
from lowdose.store.db import Database
from lowdose.store.models import CalendarPreference, Checkin


@dataclass(frozen=True)
class RecordScreen:
    patient_id: int
    profile: Profile
    result: ScreeningResult

    def to_dict(self) -> dict[str, Any]:
        """Design §3.2, plus the patient and the moment screened."""
        return {"patient_id": self.patient_id,
                "as_of": self.profile.as_of.isoformat(timespec="minutes"),
                **self.result.to_dict()}


def screen_patient(db: Database, ctx: Context, patient_id: int, *,
                   as_of: datetime | None = None,
                   hold_hours: float | None = None) -> RecordScreen:
    """Screen the stored record at `as_of` (default `ctx.now`), the patient's local time.

    When the patient's calendar names their time zone, an aware `as_of` is read there and the
    hold before surgery counts real hours in it; otherwise the wall time is used as it stands
    (pass it in the patient's time zone, e.g. `datetime.now().astimezone()` on their server).
    """
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "record.screen") as access:
        zone = patient_zone(access)
        moment = as_of or ctx.now
        if zone is not None and moment.tzinfo is not None:
            moment = moment.astimezone(zone)
        profile = record_profile(access, moment.replace(tzinfo=None))
        try:
            result = screen(profile, load_screening_knowledge(), hold_hours=hold_hours,
                            zone=zone)
        except InputError as exc:
            if exc.field != "age":
                raise
            # The stored birth date is fine; the age it gives at this moment is not.
            born = load_profile(access).birth_date
            raise InputError("as_of", f"{profile.as_of.isoformat(timespec='minutes')} is "
                                      f"outside the patient's life (born {born}): "
                                      f"{exc.message}") from None
        return RecordScreen(patient_id, profile, result)


def patient_zone(access: Access) -> ZoneInfo | None:
    """The authorized patient's time zone (their calendar preference), None when not set."""
    row = access.session.get(CalendarPreference, access.patient.id)
    return ZoneInfo(row.timezone) if row is not None and row.timezone else None


def record_profile(access: Access, as_of: datetime) -> Profile:
    """The screening profile of the authorized patient's record at `as_of` (local time)."""
    stored = load_profile(access)
    medications = tuple(
        Medication(text=m.text, rxnorm=m.rxnorm, last_taken=m.last_taken, stopped=m.stopped_on)
        for m in current_medicines(access))
    procedures = tuple(
        Procedure(at=p.at, name=p.name, opioids_expected=p.may_need_opioids)
        for p in planned_procedures(access) if not p.cancelled)
    return Profile(
        as_of=as_of, age=stored.age_on(as_of.date()), weight_kg=stored.weight_kg,
        sex=stored.sex, pregnant=stored.pregnant, breastfeeding=stored.breastfeeding,
        conditions=stored.conditions, medications=medications,
        ldn=_ldn_use(access, as_of), procedures=procedures)


def _ldn_use(access: Access, as_of: datetime) -> LdnUse | None:
    """Today's planned dose and time from the running course, the last dose from the diary,
    and the highest dose of a plan a clinician made above the usual ceiling (the override)."""
    running = current_plan(access, as_of.date())
    version = running[1] if running else None
    step = version.step_on(as_of.date()) if version else None
    planned_time = datetime.strptime(step["time"], "%H:%M").time() if step else None
    last_taken = _last_dose(access, as_of, planned_time)
    if running is None and last_taken is None:
        return None
    approved = (max(float(s["dose_mg"]) for s in version.plan["steps"])
                if version and version.request.clinician_override and version.plan["steps"]
                else None)
    return LdnUse(dose_mg=float(step["dose_mg"]) if step else None, time=planned_time,
                  last_taken=last_taken, approved_mg=approved)


def _last_dose(access: Access, as_of: datetime,
               planned_time: time | None) -> date | datetime | None:
    """When the newest dose the diary records was taken, at or before `as_of`."""
    recent = access.session.scalars(
        select(Checkin).where(Checkin.patient_id == access.patient.id,
                              Checkin.dose_taken.is_(True), Checkin.date <= as_of.date())
        .order_by(Checkin.date.desc()).limit(2)).all()
    for checkin in recent:
        # A check-in for today may name a dose time still ahead; then the one before counts.
        dose_time = checkin.dose_time or planned_time
        if dose_time is None:
            return checkin.date
        moment = datetime.combine(checkin.date, dose_time)
        if moment <= as_of:
            return moment
    return None
