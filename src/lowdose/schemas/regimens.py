"""API models for the regimen endpoints: titration plan, formulation, perioperative hold.

Requests refuse unknown fields and only check types; values are checked by the core
functions, which name the field in an `InputError`. `to_core()` gives the keyword arguments of
the matching core call (`plan`, `formulate`, `plan_hold`) except the fact tables. Responses
describe the `to_dict()` output of the core results for OpenAPI.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, TypedDict
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from lowdose.knowledge.regimens import PerioperativeFacts
from lowdose.schemas.zones import TimeZone, zone


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---- titration plan --------------------------------------------------------------------


class PlanArgs(TypedDict):
    from_date: date
    protocol: str | None
    start_mg: float | None
    step_mg: float | None
    every_days: int | None
    target_mg: float | None
    weight_kg: float | None
    liquid_mg_per_ml: float | None
    syringe_resolution_ml: float | None
    timing: Literal["bedtime", "morning"]
    clinician_override: bool


class PlanRequest(_Request):
    """Mirrors `lowdose plan`: a preset, custom numbers, or a preset with numbers changed."""

    from_date: date = Field(alias="from")
    protocol: str | None = None
    start_mg: float | None = None
    step_mg: float | None = None
    every_days: int | None = None
    target_mg: float | None = None
    weight_kg: float | None = None
    liquid_mg_per_ml: float | None = None
    syringe_resolution_ml: float | None = None
    timing: Literal["bedtime", "morning"] = "bedtime"
    clinician_override: bool = False

    def to_core(self) -> PlanArgs:
        return PlanArgs(
            from_date=self.from_date, protocol=self.protocol, start_mg=self.start_mg,
            step_mg=self.step_mg, every_days=self.every_days, target_mg=self.target_mg,
            weight_kg=self.weight_kg, liquid_mg_per_ml=self.liquid_mg_per_ml,
            syringe_resolution_ml=self.syringe_resolution_ml, timing=self.timing,
            clinician_override=self.clinician_override,
        )


class StepResponse(_Response):
    step: int
    from_date: date = Field(alias="from")
    to_date: date | None = Field(alias="to")
    dose_mg: float
    dose_ml: float | None = None
    time: str = Field(pattern=r"^\d{2}:\d{2}$")
    note: str | None = None


class PlanResponse(_Response):
    protocol: str
    form: Literal["liquid", "capsule"]
    steps: list[StepResponse]
    target_mg: float
    capsule_strengths_mg: list[float] | None = None
    mg_per_ml: float | None = None
    sources: list[str]
    notes: list[str]


# ---- formulation -----------------------------------------------------------------------


class FormulateArgs(TypedDict):
    dose_mg: float
    form: Literal["liquid", "capsule"]
    quantity: float
    start: date
    tablets: int | None
    tablet_mg: float | None
    volume_ml: float | None
    mg_per_ml: float | None
    syringe_resolution_ml: float | None
    lead_days: int | None
    storage: Literal["room", "fridge"]
    price: float | None


class FormulateRequest(_Request):
    """A liquid (strength as mg_per_ml, or tablets in volume_ml) or capsules; quantity is the
    mL or capsule count dispensed; price is per fill, in any currency."""

    dose_mg: float
    form: Literal["liquid", "capsule"]
    quantity: float
    start: date
    tablets: int | None = None
    tablet_mg: float | None = None
    volume_ml: float | None = None
    mg_per_ml: float | None = None
    syringe_resolution_ml: float | None = None
    lead_days: int | None = None
    storage: Literal["room", "fridge"] = "room"
    price: float | None = None

    def to_core(self) -> FormulateArgs:
        return FormulateArgs(
            dose_mg=self.dose_mg, form=self.form, quantity=self.quantity, start=self.start,
            tablets=self.tablets, tablet_mg=self.tablet_mg, volume_ml=self.volume_ml,
            mg_per_ml=self.mg_per_ml, syringe_resolution_ml=self.syringe_resolution_ml,
            lead_days=self.lead_days, storage=self.storage, price=self.price,
        )


class FormulationResponse(_Response):
    form: Literal["liquid", "capsule"]
    dose_mg: float
    mg_per_ml: float | None
    volume_ml: float | None
    measurable_volume_ml: float | None
    delivered_mg: float | None
    rounding_error_mg: float | None
    max_rounding_error_mg: float | None
    quantity: float
    days_of_supply: int
    usable_days: int
    run_out: date
    refill_by: date
    beyond_use_date: date | None
    waste_ml: float | None
    monthly_cost: float | None
    notes: list[str]
    sources: list[str]


# ---- perioperative hold ----------------------------------------------------------------


class HoldArgs(TypedDict):
    surgery_at: datetime
    dose_time: time
    hold_hours: float
    as_of: datetime
    last_taken: datetime | None
    dose_mg: float | None
    zone: ZoneInfo | None


class PeriopRequest(_Request):
    """Mirrors `lowdose periop`: local clock times, read in `timezone` when given."""

    surgery_at: datetime
    as_of: datetime
    dose_time: time | None = None
    hold_hours: float | None = None
    last_taken: datetime | None = None
    dose_mg: float | None = None
    timezone: TimeZone | None = None

    def to_core(
        self, facts: PerioperativeFacts, default_hold_hours: float | None = None
    ) -> HoldArgs:
        """Fill the defaults: the request's value, else the configured hold
        (LOWDOSE_HOLD_HOURS, passed in by the caller), else the facts."""
        hold = self.hold_hours
        if hold is None:
            hold = facts.default_hold_hours if default_hold_hours is None else default_hold_hours
        return HoldArgs(
            surgery_at=self.surgery_at,
            dose_time=facts.default_dose_time if self.dose_time is None else self.dose_time,
            hold_hours=hold,
            as_of=self.as_of,
            last_taken=self.last_taken,
            dose_mg=self.dose_mg,
            zone=zone(self.timezone),
        )


class HoldPlanResponse(_Response):
    surgery_at: datetime
    hold_hours: float
    last_dose_by: datetime
    can_meet_hold: bool
    last_taken: datetime | None
    restart_guidance: str
    surgical_team_note: str
    sources: list[str]
