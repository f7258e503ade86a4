"""Stateless clinical routes: screen, plan, formulate, periop, health.

Each route validates its body with the schema model, calls one core function with the loaded
facts and answers with the result's `to_dict()`, the same JSON `lowdose … --json` prints.
Nothing is stored, so these routes need no account.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lowdose import __version__
from lowdose.api.problems import documented
from lowdose.core.formulation import formulate as make_formulation
from lowdose.core.perioperative import plan_hold
from lowdose.core.screening import screen as run_screen
from lowdose.core.titration import plan as make_plan
from lowdose.knowledge.regimens import (
    load_formulation_facts,
    load_perioperative_facts,
    load_titration_facts,
)
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.schemas.regimens import (
    FormulateRequest,
    FormulationResponse,
    HoldPlanResponse,
    PeriopRequest,
    PlanRequest,
    PlanResponse,
)
from lowdose.schemas.screening import Profile, ScreeningResult
from lowdose.settings import Settings

router = APIRouter(prefix="/api/v1")
BAD_INPUT = documented(422)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def contract(data: dict[str, Any]) -> JSONResponse:
    # Returned as is: the response model documents the shape, but re-serialising through it
    # would rewrite the contract's formats (e.g. "2025-06-08T22:00" gaining seconds).
    return JSONResponse(data)


@router.get("/health", tags=["meta"], summary="Is the server up?")
async def health() -> dict[str, str]:
    """A trivial answer, also the benchmarks' reference for the server's own overhead."""
    return {"status": "ok", "version": __version__}


@router.post("/screen", tags=["screening"], summary="Safety screen",
             response_model=ScreeningResult, responses=BAD_INPUT)
async def screen(body: Profile, request: Request) -> JSONResponse:
    """Is it safe to start or continue LDN? The verdict is the most severe finding; each
    finding names what set it off and its sources. The pre-operative hold defaults to
    LOWDOSE_HOLD_HOURS, else the facts; with a `timezone` it counts real hours."""
    result = run_screen(body.to_core(), load_screening_knowledge(),
                        hold_hours=settings_of(request).hold_hours, zone=body.zone())
    return contract(result.to_dict())


@router.post("/plan", tags=["regimens"], summary="Dated dose plan",
             response_model=PlanResponse, responses=BAD_INPUT)
async def plan(body: PlanRequest) -> JSONResponse:
    """Dated steps from a preset (`protocol`), custom numbers, or a preset with numbers
    changed; doses rounded to what the formulation can measure."""
    result = make_plan(**body.to_core(), facts=load_titration_facts())
    return contract(result.to_dict())


@router.post("/formulate", tags=["regimens"], summary="Liquid or capsule supply math",
             response_model=FormulationResponse, responses=BAD_INPUT)
async def formulate(body: FormulateRequest) -> JSONResponse:
    """Strength, volume per dose, what a syringe measures, days of supply, refill date."""
    result = make_formulation(**body.to_core(), facts=load_formulation_facts())
    return contract(result.to_dict())


@router.post("/periop", tags=["regimens"], summary="Hold LDN before surgery",
             response_model=HoldPlanResponse, responses=BAD_INPUT)
async def periop(body: PeriopRequest, request: Request) -> JSONResponse:
    """Last dose before surgery, whether the hold can still be met, a note for the surgical
    team and restart guidance. The hold defaults to LOWDOSE_HOLD_HOURS, else the facts; with
    a `timezone` it counts real hours across a daylight-saving change."""
    facts = load_perioperative_facts()
    args = body.to_core(facts, settings_of(request).hold_hours)
    return contract(plan_hold(**args, facts=facts).to_dict())
