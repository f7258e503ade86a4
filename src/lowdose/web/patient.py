"""The patient's own pages: today (tonight's dose and the 30-second check-in).

Every page works on the signed-in patient's own record; the policy in the services decides,
these pages only pick the record id from the session (never from the query string).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from lowdose.errors import InputError
from lowdose.knowledge.evidence import load_side_effects
from lowdose.knowledge.instruments import load_instruments
from lowdose.services import checkins, courses, patients
from lowdose.services.context import Context
from lowdose.services.errors import Forbidden
from lowdose.web import session
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

SEVERITIES = ((1, "mild"), (2, "moderate"), (3, "severe"))


@dataclass(frozen=True)
class Own:
    """The signed-in patient: their context and record id."""

    ctx: Context
    patient_id: int


def own_record(request: Request) -> Own:
    ctx = session.current_context(request)
    user = session.current_user(request)
    if user.role != "patient" or user.patient_id is None:
        raise Forbidden("these pages are for patients with a record")
    return Own(ctx, user.patient_id)


@dataclass(frozen=True)
class Tonight:
    """Tonight's dose from the plan in force today (None: no plan yet)."""

    dose_mg: float
    dose_ml: float | None
    time: str
    step: int
    note: str | None
    until: str | None


def tonight(request: Request, own: Own, day: date) -> Tonight | None:
    db = session.database(request)
    running = [c for c in courses.list_courses(db, own.ctx, own.patient_id) if c.active_on(day)]
    if not running or running[-1].plan_version == 0:
        return None
    newest = courses.plan_versions(db, own.ctx, own.patient_id, running[-1].id)[-1]
    step = newest.step_on(day)
    if step is None:
        return None
    return Tonight(float(step["dose_mg"]), step.get("dose_ml"), str(step["time"]),
                   int(step["step"]), step.get("note"), step.get("to"))


def rating_scales() -> list[dict[str, Any]]:
    """The daily 0–10 ratings (instruments of kind "rating"), pain first."""
    scales = [i for i in load_instruments().values() if i.kind == "rating"]
    order = {"pain": 0, "fatigue": 1, "sleep": 2, "mood": 3}
    scales.sort(key=lambda i: (order.get(i.id, 9), i.id))
    return [{"id": i.id, "question": i.items[0].text, "low": i.items[0].low_label,
             "high": i.items[0].high_label} for i in scales]


def side_effect_names() -> list[str]:
    return [effect.name.lower() for effect in load_side_effects().side_effects]


@router.get("/today")
def today(request: Request) -> Response:
    own = own_record(request)
    day = own.ctx.now.date()
    db = session.database(request)
    done = checkins.list_checkins(db, own.ctx, own.patient_id, date_from=day, date_to=day)
    dose = tonight(request, own, day)
    profile = patients.get_profile(db, own.ctx, own.patient_id)
    welcome = dose is None and profile.birth_date is None and not profile.conditions
    from lowdose.web.care import due  # care imports this module

    return render(request, "patient/today.html", {
        "welcome": welcome, "due": [] if welcome else [q for q in due(request, own) if q["due"]],
        "patient_id": own.patient_id, "day": day, "tonight": dose, "done": done[0] if done
        else None, "scales": rating_scales(), "side_effects": side_effect_names(),
        "severities": SEVERITIES, "saved": request.query_params.get("saved") == "1"})


@router.post("/patients/{patient_id}/checkin")
async def record_checkin(request: Request, patient_id: int) -> Response:
    """A check-in from the today page: JSON with an `Idempotency-Key` from the browser's
    outbox (app.js), or a plain form when scripts are off."""
    ctx = session.current_context(request)
    db = session.database(request)
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    try:
        if wants_json:
            entry = checkins.CheckinInput.from_dict(_json_object(await request.body()))
        else:
            entry = _from_form(await request.form())
        done = checkins.record_checkin(db, ctx, patient_id, entry,
                                       idempotency_key=request.headers.get("Idempotency-Key"))
    except InputError as exc:
        if wants_json:
            return JSONResponse({"field": exc.field, "message": f"{exc.field}: {exc.message}"},
                                status_code=422)
        raise
    if not wants_json:
        return RedirectResponse("/today?saved=1", status_code=303)
    when = done.checkin.date.strftime("%-d %B")
    return JSONResponse({"message": f"Check-in for {when} saved.",
                         "date": done.checkin.date.isoformat(), "replayed": done.replayed},
                        status_code=200 if done.replayed else 201)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise InputError("body", "is not JSON") from None
    if not isinstance(data, dict):
        raise InputError("body", "must be a JSON object")
    return data


def _from_form(form: Any) -> checkins.CheckinInput:
    """The same check-in from the form fields (the no-script path)."""
    ratings = {key.removeprefix("rating_"): value for key, value in form.items()
               if key.startswith("rating_") and value != ""}
    effects = [{"name": key.removeprefix("effect_"), "severity": int(value)}
               for key, value in form.items() if key.startswith("effect_") and value != ""]
    other = str(form.get("other_side_effect", "")).strip()
    if other:
        effects.append({"name": other, "severity": int(form.get("other_severity") or 1)})
    data: dict[str, Any] = {"date": form.get("date"),
                            "dose_taken": form.get("dose_taken") == "yes",
                            "side_effects": effects}
    try:
        data["ratings"] = {name: int(value) for name, value in ratings.items()}
    except ValueError:
        raise InputError("ratings", "each rating is a whole number from 0 to 10") from None
    if form.get("dose_mg"):
        try:
            data["dose_mg"] = float(form["dose_mg"])
        except ValueError:
            raise InputError("dose_mg", "must be a number of milligrams") from None
    if form.get("dose_time"):
        data["dose_time"] = form["dose_time"]
    if str(form.get("note", "")).strip():
        data["note"] = form["note"]
    return checkins.CheckinInput.from_dict(data)
