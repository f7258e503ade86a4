"""Liquid and capsule arithmetic: concentration, what a syringe really measures, supply,
refill date, beyond-use date and the waste it implies, monthly cost.

Doses and volumes are computed with exact fractions of the decimal numbers given (0.1 mL is
exactly a tenth), so "a multiple of 0.1 mL" means what it says; results are floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Literal

from lowdose.errors import InputError
from lowdose.knowledge.regimens import FormulationFacts

Form = Literal["liquid", "capsule"]
Storage = Literal["room", "fridge"]

# Only for turning a per-fill price into a per-month one; not a clinical fact.
_DAYS_PER_MONTH = Fraction(36525, 1200)


def exact(value: float) -> Fraction:
    """The decimal number as written (0.1 → 1/10), not its binary float approximation."""
    return Fraction(str(value))


def marks(amount: Fraction, unit: Fraction) -> int:
    """Whole units nearest to `amount`, halves rounded up (as one reads a syringe)."""
    return math.floor(amount / unit + Fraction(1, 2))


@dataclass(frozen=True)
class Measure:
    """What a formulation can measure: every dose is a whole number of `step_mg`.

    A liquid measures `syringe_ml` at a time, so its step is mg_per_ml × syringe_ml;
    capsules can be made in steps of `step_mg` directly.
    """

    form: Form
    step_mg: Fraction
    mg_per_ml: Fraction | None = None
    syringe_ml: Fraction | None = None

    def ml(self, dose_mg: Fraction) -> Fraction | None:
        return None if self.mg_per_ml is None else dose_mg / self.mg_per_ml


def liquid_measure(mg_per_ml: float, syringe_resolution_ml: float) -> Measure:
    _positive("liquid_mg_per_ml", mg_per_ml)
    _positive("syringe_resolution_ml", syringe_resolution_ml)
    conc, res = exact(mg_per_ml), exact(syringe_resolution_ml)
    return Measure("liquid", conc * res, mg_per_ml=conc, syringe_ml=res)


def capsule_measure(facts: FormulationFacts) -> Measure:
    return Measure("capsule", exact(facts.capsule_resolution_mg))


@dataclass(frozen=True)
class HomeDilution:
    """The home recipe, which is never shown without its warning."""

    tablets: int
    volume_ml: float
    mg_per_ml: float
    warning: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"tablets": self.tablets, "volume_ml": self.volume_ml,
                "mg_per_ml": self.mg_per_ml, "warning": self.warning,
                "sources": list(self.sources)}


def home_dilution(facts: FormulationFacts) -> HomeDilution:
    recipe = facts.home_dilution
    conc = exact(facts.tablet_mg) * recipe.tablets / exact(recipe.volume_ml)
    return HomeDilution(recipe.tablets, recipe.volume_ml, float(conc), recipe.warning.text,
                        recipe.warning.sources)


@dataclass(frozen=True)
class Formulation:
    form: Form
    dose_mg: float
    delivered_mg: float
    max_rounding_error_mg: float
    mg_per_ml: float | None
    volume_ml: float | None
    measurable_volume_ml: float | None
    quantity: float
    days_of_supply: int
    usable_days: int
    run_out: date
    refill_by: date
    beyond_use_date: date | None
    waste_ml: float | None
    monthly_cost: float | None
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def rounding_error_mg(self) -> float:
        return self.delivered_mg - self.dose_mg

    def to_dict(self) -> dict[str, object]:
        return {
            "form": self.form,
            "dose_mg": self.dose_mg,
            "mg_per_ml": _round(self.mg_per_ml),
            "volume_ml": _round(self.volume_ml),
            "measurable_volume_ml": _round(self.measurable_volume_ml),
            "delivered_mg": _round(self.delivered_mg),
            "rounding_error_mg": _round(self.rounding_error_mg),
            "max_rounding_error_mg": _round(self.max_rounding_error_mg),
            "quantity": self.quantity,
            "days_of_supply": self.days_of_supply,
            "usable_days": self.usable_days,
            "run_out": self.run_out.isoformat(),
            "refill_by": self.refill_by.isoformat(),
            "beyond_use_date": None if self.beyond_use_date is None
            else self.beyond_use_date.isoformat(),
            "waste_ml": _round(self.waste_ml),
            "monthly_cost": None if self.monthly_cost is None else round(self.monthly_cost, 2),
            "notes": list(self.notes),
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class _Dose:
    """One daily dose as the formulation gives it, and how much of the supply it uses."""

    delivered_mg: Fraction
    max_error_mg: Fraction
    per_day: Fraction  # mL or capsules
    mg_per_ml: Fraction | None = None
    volume_ml: Fraction | None = None


def formulate(
    *,
    dose_mg: float,
    form: Form,
    quantity: float,
    start: date,
    facts: FormulationFacts,
    tablets: int | None = None,
    tablet_mg: float | None = None,
    volume_ml: float | None = None,
    mg_per_ml: float | None = None,
    syringe_resolution_ml: float | None = None,
    lead_days: int | None = None,
    storage: Storage = "room",
    price: float | None = None,
) -> Formulation:
    """Supply arithmetic for a daily `dose_mg`.

    Liquid: strength as `mg_per_ml`, or as `tablets` of `tablet_mg` (default 50 mg) in
    `volume_ml`; `quantity` is the mL dispensed. Capsules: `quantity` is the capsule count,
    one a day. `price` is per fill, in any currency.
    """
    _positive("dose_mg", dose_mg)
    if exact(dose_mg) > exact(facts.max_dose_mg):
        raise InputError("dose_mg", f"{dose_mg:g} mg is above {facts.max_dose_mg:g} mg, the "
                                    f"highest LDN dose in the sources; check the dose")
    _positive("quantity", quantity)
    lead = facts.refill_lead_days if lead_days is None else lead_days
    if lead < 0:
        raise InputError("lead_days", f"must be 0 or more days; got {lead}")
    if price is not None and not (math.isfinite(price) and price >= 0):
        raise InputError("price", f"must be 0 or more; got {price:g}")
    if storage not in ("room", "fridge"):
        raise InputError("storage", f"must be 'room' or 'fridge'; got {storage!r}")
    if form == "liquid":
        dose = _liquid_dose(exact(dose_mg), facts, tablets, tablet_mg, volume_ml, mg_per_ml,
                            syringe_resolution_ml)
        shelf_days = facts.liquid_fridge_days if storage == "fridge" else facts.liquid_room_days
    elif form == "capsule":
        _refuse_liquid_args(tablets=tablets, tablet_mg=tablet_mg, volume_ml=volume_ml,
                            mg_per_ml=mg_per_ml, syringe_resolution_ml=syringe_resolution_ml)
        if not float(quantity).is_integer():
            raise InputError("quantity", f"is a number of capsules, a whole number; got "
                                         f"{quantity:g}")
        dose = _capsule_dose(exact(dose_mg), facts)
        shelf_days = None
    else:
        raise InputError("form", f"must be 'liquid' or 'capsule'; got {form!r}")
    return _supply(dose, exact(dose_mg), form, exact(quantity), start, lead, shelf_days, price,
                   facts, from_tablets=tablets is not None)


def _liquid_dose(
    dose_mg: Fraction,
    facts: FormulationFacts,
    tablets: int | None,
    tablet_mg: float | None,
    volume_ml: float | None,
    mg_per_ml: float | None,
    syringe_resolution_ml: float | None,
) -> _Dose:
    conc = _concentration(facts, tablets, tablet_mg, volume_ml, mg_per_ml)
    res_ml = (facts.syringe_resolution_ml if syringe_resolution_ml is None
              else syringe_resolution_ml)
    _positive("syringe_resolution_ml", res_ml)
    res = exact(res_ml)
    wanted_ml = dose_mg / conc
    n = marks(wanted_ml, res)
    if 2 * wanted_ml <= res:
        # Rounding to the first mark would double the dose (or more): refuse instead.
        raise InputError("dose_mg", f"{float(dose_mg):g} mg is {float(wanted_ml):g} mL, at "
                                    f"most half of the syringe's smallest mark "
                                    f"({res_ml:g} mL); a weaker liquid is needed")
    measured_ml = n * res
    return _Dose(delivered_mg=measured_ml * conc, max_error_mg=res * conc / 2,
                 per_day=measured_ml, mg_per_ml=conc, volume_ml=wanted_ml)


def _concentration(
    facts: FormulationFacts,
    tablets: int | None,
    tablet_mg: float | None,
    volume_ml: float | None,
    mg_per_ml: float | None,
) -> Fraction:
    if mg_per_ml is not None:
        if tablets is not None or volume_ml is not None:
            raise InputError("mg_per_ml", "give either mg_per_ml or tablets and volume_ml, "
                                          "not both")
        _positive("mg_per_ml", mg_per_ml)
        return exact(mg_per_ml)
    if tablets is None or volume_ml is None:
        raise InputError("mg_per_ml", "give the liquid's strength: mg_per_ml, or tablets and "
                                      "volume_ml")
    if tablets < 1:
        raise InputError("tablets", f"must be 1 or more; got {tablets}")
    _positive("volume_ml", volume_ml)
    strength = facts.tablet_mg if tablet_mg is None else tablet_mg
    _positive("tablet_mg", strength)
    return exact(strength) * tablets / exact(volume_ml)


def _capsule_dose(dose_mg: Fraction, facts: FormulationFacts) -> _Dose:
    measure = capsule_measure(facts)
    n = marks(dose_mg, measure.step_mg)
    if 2 * dose_mg <= measure.step_mg:  # the smallest capsule would double the dose or more
        raise InputError("dose_mg", f"{float(dose_mg):g} mg is below the smallest capsule "
                                    f"strength planned ({float(measure.step_mg):g} mg)")
    return _Dose(delivered_mg=n * measure.step_mg, max_error_mg=measure.step_mg / 2,
                 per_day=Fraction(1))


def _supply(
    dose: _Dose,
    dose_mg: Fraction,
    form: Form,
    quantity: Fraction,
    start: date,
    lead_days: int,
    shelf_days: int | None,
    price: float | None,
    facts: FormulationFacts,
    *,
    from_tablets: bool,
) -> Formulation:
    days = math.floor(quantity / dose.per_day)
    if days == 0:
        raise InputError("quantity", "is less than one daily dose")
    usable = days if shelf_days is None else min(days, shelf_days)
    # What is left when the beyond-use date comes before the supply runs out.
    waste = None if shelf_days is None else max(quantity - shelf_days * dose.per_day, Fraction(0))
    run_out = start + timedelta(days=usable)
    notes, sources = _notes(form, facts, from_tablets=from_tablets)
    off = _off_by_note(dose_mg, dose.delivered_mg, form, facts)
    if off:
        notes = (off, *notes)
    return Formulation(
        form=form,
        dose_mg=float(dose_mg),
        delivered_mg=float(dose.delivered_mg),
        max_rounding_error_mg=float(dose.max_error_mg),
        mg_per_ml=_float(dose.mg_per_ml),
        volume_ml=_float(dose.volume_ml),
        measurable_volume_ml=_float(dose.per_day) if form == "liquid" else None,
        quantity=float(quantity),
        days_of_supply=days,
        usable_days=usable,
        run_out=run_out,
        refill_by=max(start, run_out - timedelta(days=lead_days)),
        beyond_use_date=None if shelf_days is None else start + timedelta(days=shelf_days),
        waste_ml=_float(waste),
        monthly_cost=None if price is None
        else float(exact(price) / usable * _DAYS_PER_MONTH),
        notes=notes,
        sources=sources,
    )


# Beyond a tenth of the dose asked for, the difference is not "slight": it is said, in numbers.
_NOTABLE_ROUNDING = Fraction(1, 10)


def _off_by_note(dose_mg: Fraction, delivered_mg: Fraction, form: Form,
                 facts: FormulationFacts) -> str | None:
    off = (delivered_mg - dose_mg) / dose_mg
    if abs(off) <= _NOTABLE_ROUNDING:
        return None
    closer = ("a weaker liquid or a syringe with finer marks would measure it closer"
              if form == "liquid" else
              f"capsule strengths go in steps of {facts.capsule_resolution_mg:g} mg")
    return (f"Measured this way each dose is {float(delivered_mg):g} mg, "
            f"{abs(float(off)):.0%} {'more' if off > 0 else 'less'} than the "
            f"{float(dose_mg):g} mg asked for; {closer}. Ask your pharmacist or clinician "
            f"before using it.")


def _notes(form: Form, facts: FormulationFacts, *, from_tablets: bool) -> tuple[
        tuple[str, ...], tuple[str, ...]]:
    if form == "capsule":
        passages = [facts.fillers]
    else:
        passages = [facts.syringe_rounding, facts.liquid_storage]
        if from_tablets:
            # A liquid worked out from tablets and water may be a home dilution: always warn.
            passages.append(facts.home_dilution.warning)
    sources = (*facts.tablet_sources, *(s for p in passages for s in p.sources),
               *facts.refill_sources)
    return tuple(p.text for p in passages), tuple(dict.fromkeys(sources))


def _refuse_liquid_args(**given: float | None) -> None:
    for field, value in given.items():
        if value is not None:
            raise InputError(field, "applies to a liquid only, not to capsules")


def _positive(field: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InputError(field, f"must be a positive number; got {value:g}")


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
