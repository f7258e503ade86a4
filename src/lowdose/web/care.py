"""Looking after the supply, planning around surgery, and questionnaires when they are due."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lowdose.core.formulation import formulate
from lowdose.core.perioperative import plan_hold
from lowdose.errors import InputError
from lowdose.knowledge.instruments import Instrument, load_instruments
from lowdose.knowledge.regimens import load_formulation_facts, load_perioperative_facts
from lowdose.services import calendar, procedures, questionnaires, supplies
from lowdose.services.errors import NotFound
from lowdose.web import session
from lowdose.web.patient import Own, own_record, tonight
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

# A lowdose default, not a clinical fact: PHQ-9 and GAD-7 ask about the last 2 weeks, so asking
# more often than that would overlap their own recall window.
DUE_AFTER_DAYS = 14


# ---------------------------------------------------------------------------- supply


@router.get("/supply")
def supply_page(request: Request) -> Response:
    own = own_record(request)
    dose = tonight(request, own, own.ctx.now.date())
    form = {"form": "liquid" if dose and dose.dose_ml is not None else "capsule",
            "dose_mg": f"{dose.dose_mg:g}" if dose else "",
            "mg_per_ml": f"{dose.dose_mg / dose.dose_ml:g}" if dose and dose.dose_ml else "",
            "quantity": "", "start": own.ctx.now.date().isoformat()}
    return render(request, "patient/supply.html", {"values": form, "result": None,
                                                   "error": None})


@router.post("/supply")
async def supply_calculate(request: Request) -> Response:
    """Supply arithmetic for what the pharmacy dispensed; "Save this supply" also stores it,
    so the calendar reminds of the refill (capsules are taken as made at the dose given)."""
    own = own_record(request)
    values = {key: str(value).strip() for key, value in (await request.form()).items()
              if key != "csrf_token"}
    try:
        kind: Literal["liquid", "capsule"] = "liquid"
        if values.get("form") == "capsule":
            kind = "capsule"
        elif values.get("form") != "liquid":
            raise InputError("form", "choose liquid or capsules")
        result = formulate(
            dose_mg=_number(values, "dose_mg"), form=kind,
            quantity=_number(values, "quantity"), start=_day(values, "start"),
            mg_per_ml=_number(values, "mg_per_ml") if kind == "liquid" else None,
            facts=load_formulation_facts()).to_dict()
        saved = None
        if values.get("save") == "1":
            saved = supplies.add_supply(
                session.database(request), own.ctx, own.patient_id,
                dispensed_on=_day(values, "start"), form=kind,
                quantity=_number(values, "quantity"),
                strength=_number(values, "mg_per_ml" if kind == "liquid" else "dose_mg"))
    except InputError as exc:
        return render(request, "patient/supply.html", {"values": values, "result": None,
                                                       "error": exc}, status=422)
    return render(request, "patient/supply.html", {"values": values, "result": result,
                                                   "saved": saved, "error": None})


# --------------------------------------------------------------------------- surgery


@router.get("/surgery")
def surgery_page(request: Request) -> Response:
    return _surgery(request, None)


def _surgery(request: Request, error: InputError | None, status: int = 200) -> Response:
    own = own_record(request)
    db = session.database(request)
    planned = procedures.list_procedures(db, own.ctx, own.patient_id)
    dose = tonight(request, own, own.ctx.now.date())
    facts = load_perioperative_facts()
    hold_hours = session.settings(request).hold_hours or facts.default_hold_hours
    dose_time = time.fromisoformat(dose.time) if dose else facts.default_dose_time
    # In the patient's time zone (their calendar's), the hold counts real hours.
    timezone = calendar.get_preferences(db, own.ctx, own.patient_id).timezone
    zone = ZoneInfo(timezone) if timezone else None
    now = own.ctx.now.astimezone(zone) if zone and own.ctx.now.tzinfo else own.ctx.now
    now = now.replace(tzinfo=None, second=0, microsecond=0)
    holds = [{"procedure": p, "hold": None if not p.may_need_opioids else plan_hold(
        surgery_at=p.at, dose_time=dose_time, hold_hours=hold_hours, as_of=now,
        last_taken=None, facts=facts, dose_mg=dose.dose_mg if dose else None,
        zone=zone).to_dict()}
        for p in planned if p.at >= now - timedelta(days=1)]
    return render(request, "patient/surgery.html", {"holds": holds, "error": error},
                  status=status)


@router.post("/surgery")
async def add_surgery(request: Request) -> Response:
    own = own_record(request)
    form = await request.form()
    try:
        when = str(form.get("at", "")).strip()
        try:
            at = datetime.fromisoformat(when)
        except ValueError:
            raise InputError("at", "give the date and time of the procedure") from None
        opioids = {"yes": True, "no": False}.get(str(form.get("opioids_expected", "")))
        procedures.add_procedure(session.database(request), own.ctx, own.patient_id,
                                 name=str(form.get("name", "")), at=at,
                                 opioids_expected=opioids)
    except InputError as exc:
        return _surgery(request, exc, status=422)
    return RedirectResponse("/surgery", status_code=303)


@router.post("/surgery/{procedure_id}/cancel")
def cancel_surgery(request: Request, procedure_id: int) -> Response:
    own = own_record(request)
    procedures.cancel_procedure(session.database(request), own.ctx, own.patient_id,
                                procedure_id)
    return RedirectResponse("/surgery", status_code=303)


# -------------------------------------------------------------------- questionnaires


def patient_questionnaires() -> list[Instrument]:
    """Questionnaires a patient fills in alone (not daily ratings, no clinician items)."""
    return [i for i in load_instruments().values()
            if i.kind == "questionnaire" and all(item.assessed_by == "patient"
                                                 for item in i.items)]


def due(request: Request, own: Own) -> list[dict[str, Any]]:
    """Each questionnaire with its last answer and whether it is due."""
    answered = questionnaires.list_responses(session.database(request), own.ctx,
                                             own.patient_id)
    today = own.ctx.now.date()
    listed = []
    for instrument in patient_questionnaires():
        mine = [r for r in answered if r.instrument == instrument.id]
        last = max(mine, key=lambda r: r.answered_at) if mine else None
        next_on = last.answered_at.date() + timedelta(days=DUE_AFTER_DAYS) if last else today
        listed.append({"instrument": instrument, "last": last, "due": next_on <= today,
                       "next_on": next_on})
    return listed


@router.get("/questionnaires")
def questionnaires_page(request: Request) -> Response:
    own = own_record(request)
    return render(request, "patient/questionnaires.html", {"listed": due(request, own)})


@router.get("/questionnaires/{instrument_id}")
def questionnaire_form(request: Request, instrument_id: str) -> Response:
    own_record(request)
    return _questionnaire(request, _instrument(instrument_id), None, {})


def _questionnaire(request: Request, instrument: Instrument, error: InputError | None,
                   answers: dict[str, str], status: int = 200) -> Response:
    return render(request, "patient/questionnaire.html", {
        "instrument": instrument, "error": error, "answers": answers}, status=status)


@router.post("/questionnaires/{instrument_id}")
async def answer_questionnaire(request: Request, instrument_id: str) -> Response:
    own = own_record(request)
    instrument = _instrument(instrument_id)
    form = await request.form()
    answers = {item.id: str(form.get(f"item_{item.id}", "")) for item in instrument.items}
    try:
        parsed = {}
        for item in instrument.items:
            if answers[item.id] == "":
                raise InputError(item.id, "please answer this question")
            parsed[item.id] = int(answers[item.id])
        done = questionnaires.record_response(
            session.database(request), own.ctx, own.patient_id, instrument=instrument.id,
            answered_at=own.ctx.now.replace(tzinfo=None, second=0, microsecond=0),
            answers=parsed)
    except (InputError, ValueError) as exc:
        error = exc if isinstance(exc, InputError) else InputError("answers", "whole numbers")
        return _questionnaire(request, instrument, error, answers, status=422)
    return render(request, "patient/questionnaire_done.html", {
        "instrument": instrument, "response": done.to_dict()})


def _instrument(instrument_id: str) -> Instrument:
    found = next((i for i in patient_questionnaires() if i.id == instrument_id), None)
    if found is None:
        raise NotFound("questionnaire", instrument_id)
    return found


def _number(values: dict[str, str], field: str) -> float:
    try:
        return float(values.get(field, ""))
    except ValueError:
        raise InputError(field, "must be a number") from None


def _day(values: dict[str, str], field: str) -> date:
    try:
        return date.fromisoformat(values.get(field, ""))
    except ValueError:
        raise InputError(field, "must be a date such as 2025-06-02") from None
