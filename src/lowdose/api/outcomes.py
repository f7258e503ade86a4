"""Is it working, and what needs attention? A patient's outcomes, flags and proposed next step.

The same use cases serve the clinician's panel and the patient's home; the numbers equal
`lowdose analyze` on the same diary (services.outcomes).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import documented
from lowdose.services import courses, outcomes

router = APIRouter(prefix="/api/v1/patients/{patient_id}", tags=["outcomes"])
REFUSALS = documented(401, 403, 404, 422)
WRITES = documented(401, 403, 404, 409, 422)


@router.get("/outcomes", summary="Baseline against treatment, per measure", responses=REFUSALS)
def patient_outcomes(
    db: DB, ctx: Ctx, patient_id: int,
    start: Annotated[date | None, Query(description="Day LDN started; default: first course")]
    = None,
    onset_days: Annotated[int | None, Query(ge=0, le=365)] = None,
) -> dict[str, object]:
    return outcomes.analyze_patient(db, ctx, patient_id, start=start,
                                    onset_days=onset_days).to_dict()


@router.get("/flags", summary="Monitoring flags today, most severe first", responses=REFUSALS)
def patient_flags(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return [flag.to_dict() for flag in outcomes.patient_flags(db, ctx, patient_id)]


@router.get("/next-step", summary="The dose change the diary suggests (for approval)",
            responses=REFUSALS)
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


@router.post("/next-step/approve", summary="Approve (or edit, then approve) the proposal",
             responses=WRITES)
def approve_next_step(db: DB, ctx: Ctx, patient_id: int,
                      body: Annotated[StepEdits | None, Body()] = None) -> dict[str, object]:
    """A care-team clinician approves the diary's proposal: a new plan version from today.
    A patient gets 403 saying the proposal is a suggestion for their prescriber."""
    edits = None if body is None else courses.StepEdits(body.dose_mg, body.timing, body.note)
    return courses.approve_next_step(db, ctx, patient_id, edits=edits).to_dict()
