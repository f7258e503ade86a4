"""Supplies the pharmacy dispensed, so refill dates (and the calendar's refill reminders) come
from the record rather than from a one-off calculation.

A supply is only ever appended: a correction is a new row, and the newest dispensing (latest
`dispensed_on`, then the latest entered) is the one in use. Days of supply, the refill-by date
and the monthly cost are `lowdose.core.formulation.formulate` at the dose in force today (the
current step of the running course's newest plan); with no such step the dose is unknown and
the view says so instead of guessing a date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import select

from lowdose.core.formulation import Form, Formulation, formulate
from lowdose.errors import InputError
from lowdose.knowledge.regimens import load_formulation_facts
from lowdose.security.policy import PatientAction
from lowdose.services._access import Access, patient_access
from lowdose.services._checks import not_after, positive
from lowdose.services.context import Context
from lowdose.services.courses import current_plan
from lowdose.store.db import Database
from lowdose.store.models import SUPPLY_FORMS, Supply

NO_DOSE = ("No refill date: no titration plan is in force today, so the daily dose (and how "
           "long this supply lasts) is unknown.")
# Capsules are counted one a day (core.formulation); other strengths would make that wrong.
CAPSULE_MISMATCH = ("No refill date: these capsules are {strength:g} mg but the dose in force "
                    "is {dose:g} mg, so they are not taken one a day; ask the pharmacy.")
# Far beyond any real fill (a year of capsules, litres of liquid; LDN is a few mg), and small
# enough that a date counted from them stays a date.
MAX_QUANTITY = 10_000.0
MAX_STRENGTH_MG = 100.0
MAX_PRICE = 1e9
AT_TODAYS_DOSE = ("Worked out at today's dose of {dose:g} mg; a change of dose changes the "
                  "refill date. This supports your planning, it does not replace the "
                  "pharmacy's advice.")


@dataclass(frozen=True)
class SupplyView:
    id: int
    patient_id: int
    dispensed_on: date
    form: Form
    quantity: float  # capsules, or mL
    strength: float  # mg per capsule, or mg/mL
    price: float | None
    created_at: datetime  # naive UTC
    created_by: int | None
    dose_mg: float | None  # the dose in force today; None when unknown
    formulation: Formulation | None  # None when no refill date can be worked out
    notes: tuple[str, ...]

    @property
    def refill_by(self) -> date | None:
        return None if self.formulation is None else self.formulation.refill_by

    def to_dict(self) -> dict[str, object]:
        worked = self.formulation
        return {
            "id": self.id, "patient_id": self.patient_id,
            "dispensed_on": self.dispensed_on.isoformat(), "form": self.form,
            "quantity": self.quantity, "strength": self.strength,
            "strength_unit": "mg/mL" if self.form == "liquid" else "mg per capsule",
            "price": self.price, "created_at": self.created_at.isoformat() + "Z",
            "created_by": self.created_by, "dose_mg": self.dose_mg,
            "days_of_supply": None if worked is None else worked.days_of_supply,
            "refill_by": None if worked is None else worked.refill_by.isoformat(),
            "monthly_cost": None if worked is None or worked.monthly_cost is None
            else round(worked.monthly_cost, 2),
            "formulation": None if worked is None else worked.to_dict(),
            "notes": list(self.notes),
        }


def add_supply(db: Database, ctx: Context, patient_id: int, *, dispensed_on: date, form: str,
               quantity: float, strength: float, price: float | None = None) -> SupplyView:
    """Record a dispensed supply (the patient or their clinician)."""
    if not isinstance(dispensed_on, date) or isinstance(dispensed_on, datetime):
        raise InputError("dispensed_on", "must be a date such as 2025-06-02")
    not_after("dispensed_on", dispensed_on, ctx.now.date())
    if form not in SUPPLY_FORMS:
        raise InputError("form", f"must be one of {', '.join(SUPPLY_FORMS)}; got {form!r}")
    counted = _at_most("quantity", positive("quantity", quantity), MAX_QUANTITY)
    strong = _at_most("strength", positive("strength", strength), MAX_STRENGTH_MG)
    if price is not None and (isinstance(price, bool) or not math.isfinite(price)
                              or not 0 <= price <= MAX_PRICE):
        raise InputError("price", f"must be between 0 and {MAX_PRICE:g}")
    with patient_access(db, ctx, patient_id, PatientAction.EDIT_MEDICINES, "supply.add",
                        write=True) as access:
        row = Supply(patient_id=patient_id, dispensed_on=dispensed_on, form=form,
                     quantity=counted, strength=strong, price=price, created_at=ctx.at,
                     created_by=ctx.actor.user_id)
        access.session.add(row)
        access.session.flush()
        access.point_at("supply", row.id)
        return _view(row, dose_today(access))


def list_supplies(db: Database, ctx: Context, patient_id: int) -> list[SupplyView]:
    """The patient's supplies, newest dispensing first."""
    with patient_access(db, ctx, patient_id, PatientAction.READ_RECORD,
                        "supply.list") as access:
        dose = dose_today(access)
        return [_view(row, dose) for row in reversed(_rows(access))]


def latest_supply(access: Access) -> SupplyView | None:
    """The supply in use (for other use cases, e.g. the calendar's refill reminder)."""
    rows = _rows(access)
    return _view(rows[-1], dose_today(access)) if rows else None


def dose_today(access: Access) -> float | None:
    """The daily dose of the running course's current plan step, None when there is none."""
    today = access.ctx.now.date()
    running = current_plan(access, today)
    if running is None or running[1] is None:
        return None
    step = running[1].step_on(today)
    return None if step is None else float(step["dose_mg"])


def _at_most(field: str, value: float | None, limit: float) -> float:
    if value is None or value > limit:
        raise InputError(field, f"must be at most {limit:g}")
    return value


def _rows(access: Access) -> list[Supply]:
    """Oldest first; a correction entered for the same day comes after what it corrects."""
    return list(access.session.scalars(select(Supply)
                                       .where(Supply.patient_id == access.patient.id)
                                       .order_by(Supply.dispensed_on, Supply.id)).all())


def _view(row: Supply, dose_mg: float | None) -> SupplyView:
    form = cast(Form, row.form)
    worked, notes = _formulate(row, form, dose_mg)
    return SupplyView(row.id, row.patient_id, row.dispensed_on, form, row.quantity,
                      row.strength, row.price, row.created_at, row.created_by, dose_mg, worked,
                      notes)


def _formulate(row: Supply, form: Form,
               dose_mg: float | None) -> tuple[Formulation | None, tuple[str, ...]]:
    if dose_mg is None:
        return None, (NO_DOSE,)
    if form == "capsule" and not math.isclose(row.strength, dose_mg):
        return None, (CAPSULE_MISMATCH.format(strength=row.strength, dose=dose_mg),)
    try:
        worked = formulate(dose_mg=dose_mg, form=form, quantity=row.quantity,
                           start=row.dispensed_on, facts=load_formulation_facts(),
                           mg_per_ml=row.strength if form == "liquid" else None,
                           price=row.price)
    except InputError as exc:
        # The supply is a fact already stored; what cannot be worked out is said, not raised.
        return None, (f"No refill date: {exc}",)
    return worked, (AT_TODAYS_DOSE.format(dose=dose_mg), *worked.notes)
