"""Dispensed supplies over HTTP: list them, and record one (answers 200 with the stored
supply, its days of supply and refill-by date, like the record's other "add" routes).

Authorization and audit are the services' job (`lowdose.services.supplies`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from lowdose.api.deps import DB, Ctx
from lowdose.api.problems import documented
from lowdose.services import supplies

PATIENT = "/api/v1/patients/{patient_id}"
router = APIRouter(tags=["supplies"])
REFUSALS = documented(401, 403, 404, 422)


class NewSupply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dispensed_on: date = Field(description="The day the pharmacy dispensed it")
    form: Literal["capsule", "liquid"]
    quantity: float = Field(gt=0, le=supplies.MAX_QUANTITY, allow_inf_nan=False,
                            description="Capsules, or mL of liquid")
    strength: float = Field(gt=0, le=supplies.MAX_STRENGTH_MG, allow_inf_nan=False,
                            description="mg per capsule, or mg/mL of liquid")
    price: float | None = Field(default=None, ge=0, le=supplies.MAX_PRICE, allow_inf_nan=False,
                                description="What this fill cost, in any currency")


@router.get(PATIENT + "/supplies", summary="Dispensed supplies, newest first",
            responses=REFUSALS)
def list_supplies(db: DB, ctx: Ctx, patient_id: int) -> list[dict[str, object]]:
    return [view.to_dict() for view in supplies.list_supplies(db, ctx, patient_id)]


@router.post(PATIENT + "/supplies", summary="Record a dispensed supply", responses=REFUSALS)
def add_supply(db: DB, ctx: Ctx, patient_id: int, body: NewSupply) -> dict[str, object]:
    return supplies.add_supply(db, ctx, patient_id, **body.model_dump()).to_dict()
