"""`lowdose plan`, `lowdose formulate`, `lowdose periop`: dose plans, supply math, surgery hold.

Each command parses its options, calls one core function with the loaded facts, and prints
the contract dict (`--json`) or a readable summary. Core errors name core fields
(`target_mg`); `options()` reports them as the option the user typed (`--target`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import typer

from lowdose.cli.inputs import (
    emit_json,
    options,
    parse_date,
    parse_datetime,
    parse_time,
    parse_zone,
)
from lowdose.cli.settings import load_settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON (the contract).")]


def _today() -> date:
    return date.today()


def _now() -> datetime:
    # Local wall-clock time to the minute, as the patient reads it (core/perioperative.py).
    return datetime.now().replace(second=0, microsecond=0)


PLAN_OPTIONS = {
    "protocol": "--protocol", "start_mg": "--start", "step_mg": "--step",
    "every_days": "--every", "target_mg": "--target", "weight_kg": "--weight",
    "liquid_mg_per_ml": "--liquid-mg-per-ml", "syringe_resolution_ml": "--syringe-ml",
    "timing": "--timing",
}


def plan(
    start: Annotated[float | None, typer.Option(help="First dose, mg.")] = None,
    step: Annotated[float | None, typer.Option(help="Change per step, mg.")] = None,
    every: Annotated[int | None, typer.Option(help="Days on each step.")] = None,
    target: Annotated[float | None, typer.Option(help="Target dose, mg.")] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="First day, YYYY-MM-DD [default: today].")] = None,
    protocol: Annotated[str | None, typer.Option(
        help="A preset (see `lowdose knowledge protocols`); options given override it.")] = None,
    weight: Annotated[float | None, typer.Option(help="Weight in kg (weight-based presets).")
                      ] = None,
    liquid_mg_per_ml: Annotated[float | None, typer.Option(
        help="Plan for a liquid of this strength (mg/mL) instead of capsules.")] = None,
    syringe_ml: Annotated[float | None, typer.Option(
        help="Smallest syringe mark, mL [default: from the facts].")] = None,
    timing: Annotated[Literal["bedtime", "morning"], typer.Option(
        help="Take the dose at bedtime or in the morning.")] = "bedtime",
    clinician_override: Annotated[bool, typer.Option(
        help="A clinician allows a target above the usual ceiling.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Dated dose steps from a preset or your own numbers."""
    from lowdose.core.titration import plan as make_plan
    from lowdose.knowledge.regimens import load_titration_facts

    first_day = _today() if from_ is None else parse_date("--from", from_)
    with options(PLAN_OPTIONS):
        result = make_plan(
            from_date=first_day, facts=load_titration_facts(), protocol=protocol,
            start_mg=start, step_mg=step, every_days=every, target_mg=target, weight_kg=weight,
            liquid_mg_per_ml=liquid_mg_per_ml, syringe_resolution_ml=syringe_ml,
            timing=timing,
            clinician_override=clinician_override,
        )
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        _show_plan(data)


def _show_plan(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    liquid = data["form"] == "liquid"
    form = f"liquid {data['mg_per_ml']:g} mg/mL" if liquid else "capsules"
    render.heading(f"Dose plan: {data['protocol']} ({form}), target {data['target_mg']:g} mg")
    columns = ["step", "from", "to", "dose (mg)", *(["dose (mL)"] if liquid else []), "time",
               "note"]
    rows = [[s["step"], s["from"], s["to"] or "onwards", s["dose_mg"],
             *([s.get("dose_ml")] if liquid else []), s["time"], s.get("note")]
            for s in data["steps"]]
    render.table(columns, rows)
    if not liquid:
        render.facts([("Capsule strengths (mg)", data["capsule_strengths_mg"])])
    render.notes(data["notes"])
    render.sources(data["sources"])
    render.reminder()


FORMULATE_OPTIONS = {
    "dose_mg": "--dose", "form": "--form", "quantity": "--quantity", "tablets": "--tablets",
    "tablet_mg": "--tablet-mg", "volume_ml": "--volume-ml", "mg_per_ml": "--mg-per-ml",
    "syringe_resolution_ml": "--syringe-ml", "lead_days": "--lead-days",
    "storage": "--storage", "price": "--price",
}


def formulate(
    dose: Annotated[float, typer.Option(help="Daily dose, mg.")],
    quantity: Annotated[float, typer.Option(
        help="Amount dispensed: mL of liquid, or number of capsules.")],
    form: Annotated[Literal["liquid", "capsule"] | None, typer.Option(
        help="liquid or capsule [default: liquid when a strength is given, else capsule].")
    ] = None,
    mg_per_ml: Annotated[float | None, typer.Option(help="Liquid strength, mg/mL.")] = None,
    tablets: Annotated[int | None, typer.Option(
        help="Liquid made from this many tablets ...")] = None,
    tablet_mg: Annotated[float | None, typer.Option(
        help="... of this strength, mg [default: 50] ...")] = None,
    volume_ml: Annotated[float | None, typer.Option(help="... in this volume, mL.")] = None,
    syringe_ml: Annotated[float | None, typer.Option(
        help="Smallest syringe mark, mL [default: from the facts].")] = None,
    start: Annotated[str | None, typer.Option(
        help="Day the supply starts, YYYY-MM-DD [default: today].")] = None,
    lead_days: Annotated[int | None, typer.Option(
        help="Days before running out to reorder [default: from the facts].")] = None,
    storage: Annotated[Literal["room", "fridge"], typer.Option(
        help="Where the liquid is kept (sets its beyond-use date).")] = "room",
    price: Annotated[float | None, typer.Option(help="Price per fill, any currency.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Liquid or capsule math: strength, volume per dose, supply, refill date."""
    from lowdose.core.formulation import formulate as make_formulation
    from lowdose.knowledge.regimens import load_formulation_facts

    first_day = _today() if start is None else parse_date("--start", start)
    liquid_given = any(v is not None for v in (mg_per_ml, tablets, volume_ml, syringe_ml))
    chosen: Literal["liquid", "capsule"] = form or ("liquid" if liquid_given else "capsule")
    with options(FORMULATE_OPTIONS):
        result = make_formulation(
            dose_mg=dose, form=chosen,
            quantity=quantity, start=first_day, facts=load_formulation_facts(),
            tablets=tablets, tablet_mg=tablet_mg, volume_ml=volume_ml, mg_per_ml=mg_per_ml,
            syringe_resolution_ml=syringe_ml, lead_days=lead_days,
            storage=storage,
            price=price,
        )
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        _show_formulation(data)


def _show_formulation(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    render.heading(f"{data['form'].capitalize()}: {data['dose_mg']:g} mg a day")
    liquid = data["form"] == "liquid"
    rows: list[tuple[str, Any]] = []
    if liquid:
        rows += [("Strength (mg/mL)", data["mg_per_ml"]),
                 ("Volume per dose (mL)", data["volume_ml"]),
                 ("Measurable volume (mL)", data["measurable_volume_ml"])]
    rows += [("Dose delivered (mg)", data["delivered_mg"]),
             ("Rounding error (mg)", data["rounding_error_mg"]),
             ("Days of supply", data["days_of_supply"]),
             ("Usable days", data["usable_days"]),
             ("Runs out", data["run_out"]),
             ("Refill by", data["refill_by"])]
    if liquid:
        rows += [("Use by (beyond-use date)", data["beyond_use_date"]),
                 ("Left over at use-by (mL)", data["waste_ml"])]
    if data["monthly_cost"] is not None:
        rows.append(("Cost per month", data["monthly_cost"]))
    render.facts(rows)
    render.notes(data["notes"])
    render.sources(data["sources"])
    render.reminder()


PERIOP_OPTIONS = {
    "surgery_at": "--surgery", "dose_time": "--dose-time", "hold_hours": "--hold-hours",
    "as_of": "--as-of", "last_taken": "--last-taken", "dose_mg": "--dose",
}


def periop(
    surgery: Annotated[str, typer.Option(help="Surgery start, YYYY-MM-DDTHH:MM (local time).")],
    dose_time: Annotated[str | None, typer.Option(
        help="Usual daily dose time, HH:MM [default: bedtime from the facts].")] = None,
    hold_hours: Annotated[float | None, typer.Option(
        help="Hours between last dose and surgery [default: LOWDOSE_HOLD_HOURS, else the "
             "facts].")] = None,
    as_of: Annotated[str | None, typer.Option(
        help="Now, YYYY-MM-DDTHH:MM [default: the clock].")] = None,
    last_taken: Annotated[str | None, typer.Option(
        help="Last dose already taken, YYYY-MM-DDTHH:MM.")] = None,
    dose: Annotated[float | None, typer.Option(help="Daily dose, mg (for the note).")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="Where the times are, e.g. Europe/London, so a daylight-saving change counts "
             "[default: this machine's].")] = None,
    json_output: JsonFlag = False,
) -> None:
    """When to take the last dose before surgery, and what to tell the surgical team."""
    from lowdose.core.perioperative import plan_hold
    from lowdose.knowledge.regimens import load_perioperative_facts

    facts = load_perioperative_facts()
    surgery_at = parse_datetime("--surgery", surgery)
    daily = facts.default_dose_time if dose_time is None else parse_time("--dose-time",
                                                                          dose_time)
    now = _now() if as_of is None else parse_datetime("--as-of", as_of)
    taken = None if last_taken is None else parse_datetime("--last-taken", last_taken)
    zone = parse_zone("--timezone", timezone)
    hours = hold_hours if hold_hours is not None else (
        load_settings().hold_hours or facts.default_hold_hours)
    with options(PERIOP_OPTIONS):
        result = plan_hold(surgery_at=surgery_at, dose_time=daily, hold_hours=hours,
                           as_of=now, last_taken=taken, facts=facts, dose_mg=dose, zone=zone)
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        _show_hold(data)


def _show_hold(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    render.heading(f"LDN before surgery on {data['surgery_at'].replace('T', ' ')}")
    render.facts([
        ("Hold (hours)", data["hold_hours"]),
        ("Last dose by", data["last_dose_by"].replace("T", " ")),
        ("Can meet the hold", data["can_meet_hold"]),
        ("Last dose taken", data["last_taken"] and data["last_taken"].replace("T", " ")),
    ])
    render.paragraph("Note for the surgical team", data["surgical_team_note"])
    render.paragraph("Restarting after surgery", data["restart_guidance"])
    render.sources(data["sources"])
    render.reminder()
