"""The stored record over HTTP: patients, profile, medicines, check-ins, courses and plans,
procedures, questionnaire responses, the record's screen, and clinic administration.

Each route reads its input, calls one use case of `lowdose.services` with the request's
`Context` and answers with the view's `to_dict()`. Authorization is the services' job (the
policy decides there); use-case errors become problem details (see `deps.install`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import documented
from lowdose.errors import InputError
from lowdose.schemas.screening import ScreeningResult
from lowdose.services import (
    accounts,
    careteams,
    checkins,
    courses,
    medicines,
    patients,
    procedures,
    questionnaires,
    screening,
)
from lowdose.settings import Settings

router = APIRouter(prefix="/api/v1")
# Every record route may be refused, or name something that does not exist.
REFUSALS = documented(401, 403, 404, 422)
WRITES = documented(401, 403, 404, 409, 422)
PATIENT = "/patients/{patient_id}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _dicts(items: list[Any]) -> list[dict[str, object]]:
    return [item.to_dict() for item in items]


# ------------------------------------------------------------------------------ patients


class NewPatient(Strict):
    display_name: str
    user_id: int | None = None
    birth_date: date | None = None
    sex: str | None = None
    weight_kg: float | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[str] = Field(default_factory=list)
    synthetic: bool = False


class ProfileChange(Strict):
    """Only the fields sent change; `null` clears one."""

    birth_date: date | None = None
    sex: str | None = None
    weight_kg: float | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: list[str] | None = None


class PatientAnswer(Strict):
    id: int
    clinic_id: int
    display_name: str
    user_id: int | None = Field(description="The patient's own account, if any")
    synthetic: bool = Field(description="A made-up patient (demo or test data)")


@router.get("/patients", tags=["patients"], summary="Patients I may see",
            response_model=None,
            responses={**REFUSALS, 200: {"model": list[PatientAnswer],
                                         "description": "The patients, by id"}})
def list_patients(db: DB, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, object]]:
    return _dicts(patients.list_patients(db, ctx, limit=limit, offset=offset))


@router.post("/clinics/{clinic_id}/patients", tags=["patients"], summary="New patient record",
             responses=WRITES)
def create_patient(db: DB, ctx: Ctx, clinic_id: int, body: NewPatient) -> dict[str, object]:
    fields = body.model_dump()
    fields["conditions"] = tuple(fields["conditions"])
    return patients.create_patient(db, ctx, clinic_id=clinic_id, **fields).to_dict()


@router.get(PATIENT, tags=["patients"], summary="One patient", response_model=None,
            responses={**REFUSALS, 200: {"model": PatientAnswer, "description": "The patient"}})
def get_patient(db: DB, ctx: Ctx, patient_id: int) -> dict[str, object]:
    return patients.get_patient(db, ctx, patient_id).to_dict()


@router.get(PATIENT + "/profile", tags=["patients"], summary="The patient's profile",
            responses=REFUSALS)
def get_profile(db: DB, ctx: Ctx, patient_id: int) -> dict[str, object]:
    return patients.get_profile(db, ctx, patient_id).to_dict()


@router.patch(PATIENT + "/profile", tags=["patients"], summary="Change the profile",
              responses=WRITES)
def update_profile(db: DB, ctx: Ctx, patient_id: int,
                   body: ProfileChange) -> dict[str, object]:
    fields = body.model_dump(exclude_unset=True)
    if "conditions" in fields:
        fields["conditions"] = tuple(fields["conditions"] or ())
    return patients.update_profile(db, ctx, patient_id, **fields).to_dict()


# ----------------------------------------------------------------------------- medicines


DAY_OR_MOMENT = "must be a date (2025-06-01) or a date and local time (2025-06-01T22:30)"


def _day_or_moment(value: Any) -> Any:
    # A bare date means "that day" and a date with a time means that moment; pydantic's own
    # union would turn "2025-06-01" into midnight, and a number into seconds since 1970 (UTC).
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(DAY_OR_MOMENT)
    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: {DAY_OR_MOMENT}") from None


DayOrMoment = Annotated[date | datetime | None, BeforeValidator(_day_or_moment)]


class NewMedicine(Strict):
    text: str
    rxnorm: str | None = None
    started_on: date | None = None
    stopped_on: date | None = None
    last_taken: DayOrMoment = None


class MedicineChange(Strict):
    """Only the fields sent change; `null` clears one; stopping is setting `stopped_on`."""

    text: str | None = None
    rxnorm: str | None = None
    started_on: date | None = None
    stopped_on: date | None = None
    last_taken: DayOrMoment = None


MEDICINE = PATIENT + "/medicines/{medicine_id}"


@router.get(PATIENT + "/medicines", tags=["medicines"], summary="The medicine list",
            responses=REFUSALS)
def list_medicines(db: DB, ctx: Ctx, patient_id: int,
                   include_stopped: bool = True) -> list[dict[str, object]]:
    return _dicts(medicines.list_medicines(db, ctx, patient_id,
                                           include_stopped=include_stopped))


@router.post(PATIENT + "/medicines", tags=["medicines"], summary="Add a medicine",
             responses=WRITES)
def add_medicine(db: DB, ctx: Ctx, patient_id: int, body: NewMedicine) -> dict[str, object]:
    return medicines.add_medicine(db, ctx, patient_id, **body.model_dump()).to_dict()


@router.patch(MEDICINE, tags=["medicines"], summary="Change a medicine", responses=WRITES)
def update_medicine(db: DB, ctx: Ctx, patient_id: int, medicine_id: int,
                    body: MedicineChange) -> dict[str, object]:
    fields = body.model_dump(exclude_unset=True)
    if "text" in fields and fields["text"] is None:
        fields["text"] = ""  # the service names the field: a medicine needs its text
    return medicines.update_medicine(db, ctx, patient_id, medicine_id, **fields).to_dict()


@router.delete(MEDICINE, tags=["medicines"], summary="Remove an entry made in error",
               responses=WRITES)
def remove_medicine(db: DB, ctx: Ctx, patient_id: int, medicine_id: int) -> dict[str, object]:
    return medicines.remove_medicine(db, ctx, patient_id, medicine_id).to_dict()


@router.get(MEDICINE + "/history", tags=["medicines"], summary="Every version of an entry",
            responses=REFUSALS)
def medicine_history(db: DB, ctx: Ctx, patient_id: int,
                     medicine_id: int) -> list[dict[str, object]]:
    return _dicts(medicines.medicine_history(db, ctx, patient_id, medicine_id))


# ------------------------------------------------------------------------------ check-ins

CHECKIN_EXAMPLE = {"date": "2025-06-02", "dose_taken": True, "dose_mg": 1.5,
                   "dose_time": "22:05", "ratings": {"pain": 6, "fatigue": 5, "sleep": 7},
                   "side_effects": [{"name": "vivid dreams", "severity": 1}], "note": "…"}


class SideEffectDoc(Strict):
    name: str = Field(min_length=1, max_length=checkins.MAX_NAME)
    severity: int = Field(ge=checkins.SEVERITY_RANGE[0], le=checkins.SEVERITY_RANGE[1],
                          description="0 none, 1 mild, 2 moderate, 3 severe")


Rating = Annotated[int, Field(ge=checkins.RATING_RANGE[0], le=checkins.RATING_RANGE[1])]


class CheckinDoc(Strict):
    """A day's check-in (design §3.4): one per date; sending another for the same date
    replaces it and keeps the earlier version in its history."""

    # Documents the body only: `checkins.CheckinInput.from_dict` reads it and names each field.

    date: date
    dose_taken: bool | None = None
    dose_mg: float | None = Field(default=None, gt=0, le=checkins.MAX_DOSE_MG)
    dose_time: str | None = Field(default=None, description="Local clock time, HH:MM",
                                  examples=["22:05"])
    ratings: dict[str, Rating] = Field(default_factory=dict, max_length=checkins.MAX_RATINGS,
                                       # the names services._checks.code accepts
                                       json_schema_extra={"propertyNames": {
                                           "pattern": r"^[a-z0-9][a-z0-9_.-]{0,63}$"}},
                                       description="Name: 0–10, e.g. pain, fatigue, sleep")
    side_effects: list[SideEffectDoc] = Field(default_factory=list,
                                              max_length=checkins.MAX_SIDE_EFFECTS)
    note: str | None = Field(default=None, max_length=checkins.MAX_NOTE)


class StoredCheckin(CheckinDoc):
    """A stored check-in (or one version of it)."""

    id: int
    patient_id: int
    version: int
    recorded_at: datetime = Field(description="When this version was stored (UTC)")


def _body_schema() -> dict[str, Any]:
    # SideEffectDoc is among the components already (StoredCheckin, an answer, uses it).
    schema = CheckinDoc.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {**schema, "examples": [CHECKIN_EXAMPLE]}


# The body stays a plain object for `from_dict` to read; OpenAPI shows CheckinDoc's schema.
CheckinBody = Annotated[dict[str, Any], WithJsonSchema(_body_schema())]


@router.post(PATIENT + "/checkins", tags=["check-ins"], summary="Record a day's check-in",
             status_code=201,
             responses={**WRITES,
                        201: {"model": StoredCheckin, "description": "The stored check-in"},
                        200: {"model": StoredCheckin,
                              "description": "A retry with the same Idempotency-Key and "
                                             "body: what was stored first"}})
def record_checkin(db: DB, ctx: Ctx, patient_id: int,
                   body: Annotated[CheckinBody, Body()],
                   idempotency_key: Annotated[str | None, Header()] = None) -> JSONResponse:
    """One check-in per date: another for the same date replaces it, keeping the earlier
    version in the history. 201 with the stored check-in; 200 on an idempotent replay."""
    entry = checkins.CheckinInput.from_dict(body)
    done = checkins.record_checkin(db, ctx, patient_id, entry, idempotency_key=idempotency_key)
    return JSONResponse(done.checkin.to_dict(), status_code=200 if done.replayed else 201)


# An empty `from=` or `to=` (a form or client leaving one end open) means no bound there.
Bound = Annotated[date | None, BeforeValidator(lambda value: value or None)]


@router.get(PATIENT + "/checkins", tags=["check-ins"], summary="Check-ins between dates",
            response_model=None,
            responses={**REFUSALS, 200: {"model": list[StoredCheckin],
                                         "description": "Oldest date first"}})
def list_checkins(db: DB, ctx: Ctx, patient_id: int,
                  date_from: Annotated[Bound, Query(alias="from")] = None,
                  date_to: Annotated[Bound, Query(alias="to")] = None,
                  ) -> list[dict[str, object]]:
    return _dicts(checkins.list_checkins(db, ctx, patient_id, date_from=date_from,
                                         date_to=date_to))


@router.get(PATIENT + "/checkins/{day}/history", tags=["check-ins"],
            summary="Every version of a day's check-in", responses=REFUSALS)
def checkin_history(db: DB, ctx: Ctx, patient_id: int, day: date) -> list[dict[str, object]]:
    return _dicts(checkins.checkin_history(db, ctx, patient_id, day))


# -------------------------------------------------------------------------------- courses


class PlanOptions(Strict):
    """What the prescriber asks the planner for: the options of `lowdose plan`."""

    from_date: date
    protocol: str | None = None
    start_mg: float | None = None
    step_mg: float | None = None
    every_days: int | None = None
    target_mg: float | None = None
    liquid_mg_per_ml: float | None = None
    syringe_resolution_ml: float | None = None
    timing: str = "bedtime"
    clinician_override: bool = False

    def request(self) -> courses.PlanRequest:
        return courses.PlanRequest(**self.model_dump())


class NewCourse(Strict):
    started_on: date
    indication: str | None = None
    first_plan: PlanOptions | None = None


class PlanRevision(Strict):
    request: PlanOptions
    reason: str | None = None


class CourseEnd(Strict):
    ended_on: date


COURSE = PATIENT + "/courses/{course_id}"


@router.get(PATIENT + "/courses", tags=["courses"], summary="LDN courses", responses=REFUSALS)
def list_courses(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return _dicts(courses.list_courses(db, ctx, patient_id))


@router.post(PATIENT + "/courses", tags=["courses"], summary="Start an LDN course",
             responses=WRITES)
def start_course(db: DB, ctx: Ctx, patient_id: int, body: NewCourse) -> dict[str, object]:
    first = body.first_plan.request() if body.first_plan is not None else None
    return courses.start_course(db, ctx, patient_id, started_on=body.started_on,
                                indication=body.indication, first_plan=first).to_dict()


@router.post(COURSE + "/end", tags=["courses"], summary="End a course", responses=WRITES)
def end_course(db: DB, ctx: Ctx, patient_id: int, course_id: int,
               body: CourseEnd) -> dict[str, object]:
    return courses.end_course(db, ctx, patient_id, course_id,
                              ended_on=body.ended_on).to_dict()


@router.get(COURSE + "/plans", tags=["courses"], summary="Every plan version of a course",
            responses=REFUSALS)
def plan_versions(db: DB, ctx: Ctx, patient_id: int,
                  course_id: int) -> list[dict[str, object]]:
    return _dicts(courses.plan_versions(db, ctx, patient_id, course_id))


@router.post(COURSE + "/plans", tags=["courses"], summary="Revise the plan (a new version)",
             responses=WRITES)
def revise_plan(db: DB, ctx: Ctx, patient_id: int, course_id: int,
                body: PlanRevision) -> dict[str, object]:
    return courses.revise_plan(db, ctx, patient_id, course_id, body.request.request(),
                               reason=body.reason).to_dict()


# ----------------------------------------------------------------------------- procedures


class NewProcedure(Strict):
    name: str
    at: datetime = Field(description="Local wall-clock time of the procedure")
    opioids_expected: bool | None = None


@router.get(PATIENT + "/procedures", tags=["procedures"], summary="Planned procedures",
            responses=REFUSALS)
def list_procedures(db: DB, ctx: Ctx, patient_id: int,
                    include_cancelled: bool = False) -> list[dict[str, object]]:
    return _dicts(procedures.list_procedures(db, ctx, patient_id,
                                             include_cancelled=include_cancelled))


@router.post(PATIENT + "/procedures", tags=["procedures"], summary="Plan a procedure",
             responses=WRITES)
def add_procedure(db: DB, ctx: Ctx, patient_id: int, body: NewProcedure) -> dict[str, object]:
    return procedures.add_procedure(db, ctx, patient_id, **body.model_dump()).to_dict()


@router.post(PATIENT + "/procedures/{procedure_id}/cancel", tags=["procedures"],
             summary="Cancel a procedure", responses=WRITES)
def cancel_procedure(db: DB, ctx: Ctx, patient_id: int,
                     procedure_id: int) -> dict[str, object]:
    return procedures.cancel_procedure(db, ctx, patient_id, procedure_id).to_dict()


# ------------------------------------------------------------------------- questionnaires


class NewResponse(Strict):
    instrument: str
    answered_at: datetime
    answers: dict[str, Any]


@router.get(PATIENT + "/questionnaires", tags=["questionnaires"],
            summary="Questionnaire responses", responses=REFUSALS)
def list_responses(db: DB, ctx: Ctx, patient_id: int,
                   instrument: str | None = None) -> list[dict[str, object]]:
    return _dicts(questionnaires.list_responses(db, ctx, patient_id, instrument=instrument))


@router.post(PATIENT + "/questionnaires", tags=["questionnaires"],
             summary="Record a questionnaire response", responses=WRITES)
def record_response(db: DB, ctx: Ctx, patient_id: int,
                    body: NewResponse) -> dict[str, object]:
    return questionnaires.record_response(db, ctx, patient_id,
                                          **body.model_dump()).to_dict()


# ------------------------------------------------------------------------------ screening


class RecordScreen(ScreeningResult):
    """Design §3.2 for the stored record, with the patient and the moment screened."""

    patient_id: int
    as_of: str = Field(description="The patient's local wall-clock time screened at",
                       examples=["2025-06-02T09:00"])


@router.get(PATIENT + "/screen", tags=["screening"], summary="Screen the stored record",
            response_model=None,
            responses={**REFUSALS, 200: {"model": RecordScreen,
                                         "description": "The screening result"}})
def screen_record(request: Request, db: DB, ctx: Ctx, patient_id: int,
                  as_of: Annotated[datetime | None, Query(
                      description="The patient's local wall-clock time; default: now, in the "
                                  "patient's calendar time zone when one is set, else UTC")]
                  = None) -> dict[str, object]:
    settings: Settings = request.app.state.settings
    try:
        return screening.screen_patient(db, ctx, patient_id, as_of=as_of,
                                        hold_hours=settings.hold_hours).to_dict()
    except InputError as exc:
        if as_of is None or exc.field != "as_of":
            raise
        raise InputError("query.as_of", exc.message) from None  # the parameter sent
    except OverflowError:
        if as_of is None:
            raise
        raise InputError("query.as_of", "is so near the start or end of the calendar that "
                                        "the days screened around it fall outside years "
                                        "1–9999") from None


# -------------------------------------------------------------------------- administration


class NewUser(Strict):
    username: str
    password: str
    role: str
    display_name: str | None = None


class UserChange(Strict):
    active: bool


class NewPassword(Strict):
    password: str


class NewCareTeam(Strict):
    name: str


TEAM = "/care-teams/{team_id}"


@router.get("/clinics/{clinic_id}/users", tags=["admin"], summary="Users of a clinic",
            responses=REFUSALS)
def list_users(db: DB, ctx: Ctx, clinic_id: int) -> list[dict[str, object]]:
    return _dicts(accounts.list_users(db, ctx, clinic_id))


@router.post("/clinics/{clinic_id}/users", tags=["admin"], summary="New user",
             responses=WRITES)
def create_user(db: DB, ctx: Ctx, clinic_id: int, body: NewUser) -> dict[str, object]:
    return accounts.create_user(db, ctx, clinic_id=clinic_id, **body.model_dump()).to_dict()


@router.patch("/users/{user_id}", tags=["admin"], summary="Disable or enable a user",
              responses=WRITES)
def set_active(db: DB, ctx: Ctx, user_id: int, body: UserChange) -> dict[str, object]:
    return accounts.set_active(db, ctx, user_id, body.active).to_dict()


@router.post("/users/{user_id}/password", tags=["admin"], summary="Set a new password",
             responses=WRITES)
def reset_password(db: DB, ctx: Ctx, user_id: int, body: NewPassword) -> dict[str, object]:
    return accounts.reset_password(db, ctx, user_id, body.password).to_dict()


@router.get("/clinics/{clinic_id}/care-teams", tags=["admin"], summary="Care teams",
            responses=REFUSALS)
def list_care_teams(db: DB, ctx: Ctx, clinic_id: int) -> list[dict[str, object]]:
    return _dicts(careteams.list_care_teams(db, ctx, clinic_id))


@router.post("/clinics/{clinic_id}/care-teams", tags=["admin"], summary="New care team",
             responses=WRITES)
def create_care_team(db: DB, ctx: Ctx, clinic_id: int,
                     body: NewCareTeam) -> dict[str, object]:
    return careteams.create_care_team(db, ctx, clinic_id, body.name).to_dict()


@router.put(TEAM + "/members/{user_id}", tags=["admin"], summary="Put a user on a team",
            responses=WRITES)
def add_member(db: DB, ctx: Ctx, team_id: int, user_id: int) -> dict[str, object]:
    return careteams.add_member(db, ctx, team_id, user_id).to_dict()


@router.delete(TEAM + "/members/{user_id}", tags=["admin"], summary="Take a user off a team",
               responses=WRITES)
def remove_member(db: DB, ctx: Ctx, team_id: int, user_id: int) -> dict[str, object]:
    return careteams.remove_member(db, ctx, team_id, user_id).to_dict()


@router.put(TEAM + "/patients/{patient_id}", tags=["admin"],
            summary="Put a patient in a team's care", responses=WRITES)
def assign_patient(db: DB, ctx: Ctx, team_id: int, patient_id: int) -> dict[str, object]:
    return careteams.assign_patient(db, ctx, team_id, patient_id).to_dict()


@router.delete(TEAM + "/patients/{patient_id}", tags=["admin"],
               summary="Take a patient out of a team's care", responses=WRITES)
def unassign_patient(db: DB, ctx: Ctx, team_id: int, patient_id: int) -> dict[str, object]:
    return careteams.unassign_patient(db, ctx, team_id, patient_id).to_dict()
