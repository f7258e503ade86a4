"""Is it working, and what needs attention? A patient's outcomes, flags and proposed next step.

The same use cases serve the clinician's panel and the patient's home; the numbers equal
`lowdose analyze` on the same diary (services.outcomes).
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import documented
from lowdose.core.nof1 import Arm
from lowdose.core.outcomes import START_TOO_LATE
from lowdose.errors import InputError
from lowdose.services import courses, nof1, outcomes, panel

# One router for the patient's outcomes and for the clinic panel built on the same flags.
router = APIRouter(prefix="/api/v1", tags=["outcomes"])
PATIENT = "/patients/{patient_id}"
REFUSALS = documented(401, 403, 404, 422)
WRITES = documented(401, 403, 404, 409, 422)


@router.get(PATIENT + "/outcomes", summary="Baseline against treatment, per measure",
            responses=REFUSALS)
def patient_outcomes(
    db: DB, ctx: Ctx, patient_id: int,
    start: Annotated[date | None, Query(description="Day LDN started; default: first course")]
    = None,
    onset_days: Annotated[int | None, Query(ge=0, le=365)] = None,
) -> dict[str, object]:
    try:
        return outcomes.analyze_patient(db, ctx, patient_id, start=start,
                                        onset_days=onset_days).to_dict()
    except OverflowError:
        if start is None:
            raise
        raise InputError("query.start", START_TOO_LATE) from None


@router.get(PATIENT + "/flags", summary="Monitoring flags today, most severe first",
            responses=REFUSALS)
def patient_flags(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return [flag.to_dict() for flag in outcomes.patient_flags(db, ctx, patient_id)]


@router.get(PATIENT + "/next-step",
            summary="The dose change the diary suggests (for approval)", responses=REFUSALS)
def proposed_next_step(db: DB, ctx: Ctx, patient_id: int) -> dict[str, object] | None:
    """The proposal, with `approval`: "clinician" (a care-team clinician approves it) or
    "suggestion" (a self-managing patient: nobody can approve it), and `may_approve`."""
    proposal = courses.next_step_proposal(db, ctx, patient_id)
    return None if proposal is None else proposal.to_dict()


class StepEdits(BaseModel):
    """Changes to the proposal before approving it; leave out what stays as proposed."""

    model_config = ConfigDict(extra="forbid")

    dose_mg: float | None = Field(default=None, gt=0, le=50)
    timing: Literal["bedtime", "morning"] | None = None
    note: str | None = Field(default=None, max_length=1000)
    # What the approver was shown (GET …/next-step): approving answers 409 if it changed.
    plan_version: int | None = Field(default=None, ge=0, description=(
        "The `plan_version` of the proposal that was read; 409 if the plan changed since"))
    proposal_action: str | None = Field(default=None, max_length=40, description=(
        "The proposal's `action` as read; 409 if the diary now proposes something else"))
    proposal_dose_mg: float | None = Field(default=None, ge=0, le=50, description=(
        "The proposal's `dose_mg` as read; 409 if it changed"))


@router.post(PATIENT + "/next-step/approve",
             summary="Approve (or edit, then approve) the proposal", responses=WRITES)
def approve_next_step(db: DB, ctx: Ctx, patient_id: int,
                      body: Annotated[StepEdits | None, Body()] = None) -> dict[str, object]:
    """A care-team clinician approves the diary's proposal: a new plan version from today.
    A patient gets 403 saying the proposal is a suggestion for their prescriber."""
    edits = None if body is None else courses.StepEdits(body.dose_mg, body.timing, body.note)
    seen = None
    if body is not None and body.plan_version is not None:
        seen = courses.SeenProposal(body.plan_version, body.proposal_action,
                                    body.proposal_dose_mg)
    elif body is not None and (body.proposal_action or body.proposal_dose_mg is not None):
        raise InputError("plan_version", "is needed to check the proposal read is current")
    return courses.approve_next_step(db, ctx, patient_id, edits=edits, seen=seen).to_dict()


@router.get("/panel", tags=["panel"], summary="Who needs attention, most urgent first",
            responses=documented(401, 403, 422))
def clinic_panel(
    db: DB, ctx: Ctx,
    level: Annotated[Literal["urgent", "attention", "info"] | None,
                     Query(description="Flags at this level or more severe")] = None,
    q: Annotated[str | None, Query(max_length=panel.MAX_SEARCH,
                                   description="Part of the display name")] = None,
    limit: Annotated[int, Query(ge=1, le=panel.MAX_LIMIT)] = 25,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, object]:
    """The signed-in clinician's care-team patients (an admin: the clinic's, by name, with
    detail only where on the care team), sorted by urgency."""
    return panel.clinic_panel(db, ctx, level=level, search=q, limit=limit,
                              offset=offset).to_dict()


# --------------------------------------------------------------------- n-of-1 comparisons

NOF1 = PATIENT + "/nof1"


class ArmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dose_mg: float = Field(gt=0, le=50)
    time: time


class NewComparison(BaseModel):
    """Two arms that differ in one thing (dose or time of day); blocks, period and run-in
    default to the knowledge base's (3 blocks of two 14-day periods, 3 run-in days)."""

    model_config = ConfigDict(extra="forbid")

    a: ArmBody
    b: ArmBody
    starts_on: date
    blocks: int | None = Field(default=None, ge=2, le=nof1.MAX_BLOCKS)
    period_days: int | None = Field(default=None, ge=2, le=nof1.MAX_PERIOD_DAYS)
    run_in_days: int | None = Field(default=None, ge=0, le=nof1.MAX_PERIOD_DAYS)
    note: str | None = Field(default=None, max_length=2000)


@router.post(NOF1, tags=["n-of-1"], summary="Plan an n-of-1 comparison", status_code=201,
             responses=WRITES)
def create_comparison(db: DB, ctx: Ctx, patient_id: int,
                      body: NewComparison) -> dict[str, object]:
    request = nof1.ComparisonRequest(
        a=Arm(body.a.dose_mg, body.a.time), b=Arm(body.b.dose_mg, body.b.time),
        starts_on=body.starts_on, blocks=body.blocks, period_days=body.period_days,
        run_in_days=body.run_in_days, note=body.note)
    return nof1.create_comparison(db, ctx, patient_id, request).to_dict()


@router.get(NOF1, tags=["n-of-1"], summary="The patient's comparisons", responses=REFUSALS)
def list_comparisons(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return [c.to_dict() for c in nof1.list_comparisons(db, ctx, patient_id)]


@router.get(NOF1 + "/{comparison_id}", tags=["n-of-1"], summary="One comparison",
            responses=REFUSALS)
def get_comparison(db: DB, ctx: Ctx, patient_id: int, comparison_id: int) -> dict[str, object]:
    return nof1.get_comparison(db, ctx, patient_id, comparison_id).to_dict()


@router.get(NOF1 + "/{comparison_id}/analysis", tags=["n-of-1"],
            summary="B against A per measure, run-in days left out", responses=REFUSALS)
def analyze_comparison(db: DB, ctx: Ctx, patient_id: int,
                       comparison_id: int) -> dict[str, object]:
    return nof1.analyze(db, ctx, patient_id, comparison_id).to_dict()


@router.post(NOF1 + "/{comparison_id}/cancel", tags=["n-of-1"],
             summary="Stop following a comparison (it stays on the record)", responses=WRITES)
def cancel_comparison(db: DB, ctx: Ctx, patient_id: int,
                      comparison_id: int) -> dict[str, object]:
    return nof1.cancel_comparison(db, ctx, patient_id, comparison_id).to_dict()
