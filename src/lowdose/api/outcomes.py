"""Is it working, and what needs attention? A patient's outcomes, flags and proposed next step.

The same use cases serve the clinician's panel and the patient's home; the numbers equal
`lowdose analyze` on the same diary (services.outcomes).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import documented
from lowdose.services import courses, outcomes

router = APIRouter(prefix="/api/v1/patients/{patient_id}", tags=["outcomes"])
REFUSALS = documented(401, 403, 404, 422)


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
    decision = courses.propose_next_step(db, ctx, patient_id)
    return None if decision is None else decision.to_dict()
