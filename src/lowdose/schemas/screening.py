"""The screening profile (design §3.1) and result (§3.2) as Pydantic models.

`Profile` validates the JSON body (unknown fields are an error) and `to_core()` turns it into
`lowdose.core.screening.Profile`. Times are local wall-clock times: when they carry a UTC
offset they must all carry one, and are then read in the profile's `timezone` if it has one,
else in the offset of `as_of`. `ScreeningResult` describes
`core.screening.ScreeningResult.to_dict()` for OpenAPI.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from datetime import time as clock_time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from lowdose.core import screening as core
from lowdose.errors import InputError
from lowdose.schemas.zones import TimeZone, zone

Level = Literal["contraindicated", "defer", "specialist", "caution", "info"]
Verdict = Literal["contraindicated", "defer", "specialist", "caution", "ok"]


def _date_or_datetime(value: Any) -> Any:
    """"2025-06-01" stays a date (the time is unknown); "2025-06-01T22:00" is a datetime."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) <= 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("expected an ISO date (2025-06-01) or date and time "
                             "(2025-06-01T22:00)") from None
    if not isinstance(value, date):
        # A number would otherwise be read as seconds since 1970: a date is written as text.
        raise ValueError("expected an ISO date (2025-06-01) or date and time "
                         "(2025-06-01T22:00) as text")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("expected an ISO date (2025-06-01)") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError("expected an ISO date (2025-06-01) as text")
    return value


DateOrDateTime = Annotated[date | datetime, BeforeValidator(_date_or_datetime)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Numbers as JSON numbers: lax parsing would read `true` as 1 (an age of one) or "70" as 70.
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    # Built on first use: the CLI never validates results, so it need not pay for them.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class Medication(_Request):
    text: str | None = Field(default=None, min_length=1, max_length=500,
                             examples=["Norco 5/325 mg every 6 h as needed"])
    rxnorm: str | None = Field(default=None, pattern=r"^\d{1,10}$", examples=["857002"])
    last_taken: DateOrDateTime | None = None
    stopped: IsoDate | None = Field(
        default=None, description="lowdose extension: the day the medicine was stopped")

    @model_validator(mode="after")
    def _named(self) -> Medication:
        if not (self.text and self.text.strip()) and not self.rxnorm:
            raise ValueError("give the medicine's name (text) or its RxNorm code (rxnorm)")
        return self


class Ldn(_Request):
    dose_mg: StrictFloat | None = Field(default=None, gt=0, le=50)
    time: clock_time | None = Field(default=None, examples=["22:00"])
    last_taken: DateOrDateTime | None = None

    @field_validator("time")
    @classmethod
    def _local_clock(cls, value: clock_time | None) -> clock_time | None:
        # The dose time is a local clock time; "22:00Z" would later be compared with times
        # that have no offset, which Python refuses (a crash, found by schemathesis).
        if value is not None and value.tzinfo is not None:
            raise ValueError("give the local clock time without a UTC offset, e.g. 22:00")
        return value


class Procedure(_Request):
    name: str | None = Field(default=None, max_length=200)
    at: DateOrDateTime
    opioids_expected: bool | None = Field(
        default=None, description="false: no opioids expected, so no hold; missing or null: "
                                  "not known, so the hold applies in case opioids are used")


class Profile(_Request):
    """Design §3.1. Every field but `as_of` is optional."""

    as_of: DateOrDateTime
    age: StrictInt | None = Field(default=None, ge=0, le=130)
    weight_kg: StrictFloat | None = Field(default=None, gt=0, le=500)
    sex: Literal["female", "male", "other", "unknown"] | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    ldn: Ldn | None = None
    procedures: list[Procedure] = Field(default_factory=list)
    timezone: TimeZone | None = None

    def zone(self) -> ZoneInfo | None:
        """Where the profile's clock times are (for `core.screening.screen`'s `zone`)."""
        return zone(self.timezone)

    def to_core(self) -> core.Profile:
        clock = _Clock(self.as_of, self.zone())
        return core.Profile(
            as_of=clock.moment("as_of", self.as_of),
            age=self.age,
            weight_kg=self.weight_kg,
            sex=self.sex,
            pregnant=self.pregnant,
            breastfeeding=self.breastfeeding,
            conditions=tuple(self.conditions),
            medications=tuple(
                core.Medication(text=m.text, rxnorm=m.rxnorm,
                                last_taken=clock.value(f"medications.{i}.last_taken",
                                                       m.last_taken),
                                stopped=m.stopped)
                for i, m in enumerate(self.medications)
            ),
            ldn=None if self.ldn is None else core.LdnUse(
                dose_mg=self.ldn.dose_mg, time=self.ldn.time,
                last_taken=clock.value("ldn.last_taken", self.ldn.last_taken)),
            procedures=tuple(
                # Unknown is "may need opioids": lowdose errs towards asking the clinician.
                core.Procedure(at=clock.moment(f"procedures.{i}.at", p.at), name=p.name,
                               opioids_expected=p.opioids_expected is not False)
                for i, p in enumerate(self.procedures)
            ),
        )


class _Clock:
    """Local wall-clock times: all without an offset, or all with one (read in the profile's
    time zone, else in `as_of`'s offset)."""

    def __init__(self, as_of: date | datetime, zone: ZoneInfo | None) -> None:
        offset = as_of.tzinfo if isinstance(as_of, datetime) else None
        self.zone: tzinfo | None = zone if offset is not None and zone is not None else offset

    def value(self, field: str, moment: date | datetime | None) -> date | datetime | None:
        if moment is None or not isinstance(moment, datetime):
            return moment
        return self.moment(field, moment)

    def moment(self, field: str, moment: date | datetime) -> datetime:
        if not isinstance(moment, datetime):
            return datetime.combine(moment, clock_time())  # a day alone: its first minute
        if (moment.tzinfo is None) != (self.zone is None):
            raise InputError(field, "mixes a time with a UTC offset and one without; give "
                                    "all times as local clock times, or all with an offset")
        if self.zone is None:
            return moment
        return moment.astimezone(self.zone).replace(tzinfo=None)


def profile_from_json(data: Any) -> core.Profile:
    """Validate a §3.1 document into a core profile; the first problem as an `InputError`."""
    try:
        model = Profile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "profile"
        raise InputError(field, first["msg"]) from None
    return model.to_core()


# ---- result (§3.2) --------------------------------------------------------------------------


class Finding(_Response):
    code: str = Field(examples=["active-opioid"])
    level: Level
    trigger: str = Field(description="the profile text that set the rule off")
    matched: str | None = Field(description="what it was recognised as",
                                examples=["hydrocodone (Norco)"])
    message: str
    sources: list[str] = Field(description="source ids, see `lowdose knowledge sources`")


class Perioperative(_Response):
    last_dose_by: str = Field(examples=["2025-06-08T22:00"])
    hold_hours: float
    can_meet_hold: bool
    procedure: str | None
    surgery_at: str
    last_taken: str | None
    restart_guidance: str
    surgical_team_note: str
    sources: list[str]


class Strength(_Response):
    ingredient: str
    value: float
    unit: str


class DailyAmount(_Response):
    ingredient: str
    low_mg: float
    high_mg: float


class Reading(_Response):
    cls: str = Field(alias="class")
    matched: str


class ConceptMatch(_Response):
    concept: str
    name: str
    brand: str | None
    cls: str = Field(alias="class")
    ingredients: list[str]
    method: Literal["rxnorm", "exact", "fuzzy"]
    confidence: float = Field(ge=0, le=1)
    words: str
    sources: list[str]


class RecognizedMedication(_Response):
    """What one medication entry was recognised as (a lowdose extension to §3.2)."""

    text: str | None
    rxnorm: str | None
    status: Literal["matched", "ambiguous", "unknown"]
    matched: str | None
    cls: str | None = Field(alias="class")
    readings: list[Reading]
    method: Literal["rxnorm", "exact", "fuzzy"] | None
    confidence: float = Field(ge=0, le=1)
    concepts: list[ConceptMatch]
    candidates: list[ConceptMatch]
    ingredients: list[str]
    strengths: list[Strength]
    daily_mg: list[DailyAmount]
    route: str | None
    form: str | None
    as_needed: bool
    stopped: bool
    stopped_on: date | None


class ScreeningResult(_Response):
    """Design §3.2: the verdict is the most severe finding (`ok` when none is above info)."""

    verdict: Verdict
    findings: list[Finding]
    earliest_start: date | None = Field(description="for `defer`: the first day LDN may start")
    perioperative: Perioperative | None
    medications: list[RecognizedMedication]

