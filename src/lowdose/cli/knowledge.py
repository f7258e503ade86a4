"""`lowdose knowledge [sources|drugs|protocols|evidence|instruments|side-effects] [QUERY]`: the
facts lowdose has loaded, each with the sources it cites. Without a part, a count of each part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

import typer

from lowdose.cli.inputs import emit_json
from lowdose.errors import InputError

Part = Literal["sources", "drugs", "protocols", "evidence", "instruments", "side-effects"]


def knowledge(
    part: Annotated[Part | None, typer.Argument(
        help="sources, drugs, protocols, evidence, instruments or side-effects "
             "[default: a summary].")] = None,
    query: Annotated[str | None, typer.Argument(
        help="evidence: one CONDITION (name or code); drugs: names containing this; "
             "instruments: one instrument id.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Show the loaded facts and their sources."""
    show: Callable[[dict[str, Any]], None]
    if part is None:
        data, show = summary(), _show_summary
    else:
        data, show = _PARTS[part](query)
    if json_output:
        emit_json(data)
    else:
        show(data)
        from lowdose.cli import render

        render.reminder()


def summary() -> dict[str, int]:
    from lowdose.knowledge.evidence import load_evidence, load_side_effects
    from lowdose.knowledge.instruments import load_instruments
    from lowdose.knowledge.medicines import load_medicine_vocabulary
    from lowdose.knowledge.regimens import load_titration_facts
    from lowdose.knowledge.sources import load_sources

    medicines = load_medicine_vocabulary()
    evidence = load_evidence()
    return {
        "sources": len(load_sources()),
        "drugs": len(medicines.concepts),
        "rxnorm_codes": len(medicines.rxnorm),
        "protocols": len(load_titration_facts().protocols),
        "conditions": len(evidence.conditions),
        "claims": len(evidence.claims),
        "instruments": len(load_instruments()),
        "side_effects": len(load_side_effects().side_effects),
    }


def _show_summary(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    render.heading("Loaded knowledge")
    render.facts((name.replace("_", " "), count) for name, count in data.items())
    render.notes([f"lowdose knowledge {part} shows each entry with its sources."
                  for part in _PARTS], title="More")


Shown = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


def _sources(query: str | None) -> Shown:
    from lowdose.knowledge.sources import load_sources

    _no_query("sources", query)
    return load_sources().to_dict(), _show_sources


def _show_sources(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    render.heading("Sources (status: V verified, S secondary only, U unverified)")
    for s in data["sources"]:
        render.console.print(f"[{s['id']}] ({s['kind']}, {s['status']}) {s['citation']} "
                             f"{s['link']}")


def _protocols(query: str | None) -> Shown:
    from lowdose.knowledge.regimens import load_titration_facts

    _no_query("protocols", query)
    facts = load_titration_facts()
    return {"protocols": [asdict(p) for p in facts.protocols]}, _show_protocols


def _show_protocols(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    rows = [(f"{p['name']}\n{p['title']}", _dose(p), p["every_days"],
             ", ".join(p["sources"])) for p in data["protocols"]]
    render.table(["name", "dose (mg)", "every (days)", "sources"], rows,
                 title="Titration presets (lowdose plan --protocol NAME)")


def _dose(protocol: dict[str, Any]) -> str:
    if protocol["mg_per_kg"] is not None:
        return f"{protocol['mg_per_kg']:g} mg/kg, at most {protocol['max_mg']:g}"
    step, liquid = protocol["step_mg"], protocol["liquid_mg_per_ml"]
    steps = f" in {step:g} mg steps" if step else ", fixed"
    form = f", liquid {liquid:g} mg/mL" if liquid else ""
    return f"{protocol['start_mg']:g} → {protocol['target_mg']:g}{steps}{form}"


def _drugs(query: str | None) -> Shown:
    from lowdose.knowledge.medicines import load_medicine_vocabulary

    concepts = load_medicine_vocabulary().concepts.values()
    wanted = None if query is None else query.casefold()
    chosen = [c for c in concepts if wanted is None
              or any(wanted in name.casefold() for name in (c.name, *c.names))]
    if not chosen:
        raise InputError("QUERY", f"no medicine name contains {query!r}")
    drugs = [{"id": c.id, "name": c.name, "brand": c.brand, "ingredients": list(c.ingredients),
              "class": c.cls, "names": list(c.names), "rxnorm": list(c.rxnorm),
              "sources": list(c.sources)} for c in chosen]
    return {"drugs": drugs}, _show_drugs


def _show_drugs(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    rows = [(d["name"], "brand" if d["brand"] else "generic", ", ".join(d["ingredients"]),
             d["class"], ", ".join(d["sources"])) for d in data["drugs"]]
    render.table(["name", "kind", "ingredients", "class", "sources"], rows,
                 title="Medicine vocabulary (names the screen recognises)")


def _evidence(query: str | None) -> Shown:
    from lowdose.knowledge.evidence import load_evidence
    from lowdose.learn.search import condition_for

    evidence = load_evidence()
    if query is None:
        return evidence.to_dict(), _show_evidence
    # The same reading as the Learn search box: "ME", "fibro", "crohn" find their condition.
    found = condition_for(query, evidence)
    if found is None:
        names = ", ".join(c.name for c in evidence.conditions)
        raise InputError("CONDITION", f"no evidence entry for {query!r}; known: {names}")
    return found.to_dict(), _show_condition


def _show_evidence(data: dict[str, Any]) -> None:
    from lowdose.cli import render
    from lowdose.learn.evidence import VERDICT_LABELS

    rows = [(c["name"], c["grade_label"], c["summary"], _cited(c["sources"]))
            for c in data["conditions"]]
    render.table(["condition", "evidence", "summary", "sources"], rows,
                 title="Evidence for LDN by condition (lowdose knowledge evidence CONDITION)")
    claims = [(c["claim"], VERDICT_LABELS[c["verdict"]], c["finding"], _cited(c["sources"]))
              for c in data["claims"]]
    render.table(["claim", "verdict", "finding", "sources"], claims, title="Claims checked")
    render.sources([i for part in ("conditions", "claims") for row in data[part]
                    for i in row["sources"]])


def _cited(ids: list[str]) -> str:
    """Source ids, or a plain statement that no source was found (a no-data verdict)."""
    return ", ".join(ids) or "none found"


def _show_condition(data: dict[str, Any]) -> None:
    from lowdose.cli import render
    from lowdose.learn.evidence import DESIGN_LABELS

    render.heading(f"{data['name']}: {data['grade_label']}")
    render.paragraph("Summary", data["summary"])
    if data["grade_note"]:
        render.paragraph("About the grade", data["grade_note"])
    rows = [(f"{s['first_author']} {s['year']}", DESIGN_LABELS[s["design"]], s["n"], s["result"],
             _study_ids(s)) for s in data["studies"]]
    render.table(["study", "design", "n", "result", "identifiers"], rows, title="Studies")
    render.sources(data["sources"])


def _study_ids(study: dict[str, Any]) -> str:
    """"PMID 19453963", "DOI …", "NCT…", one a line; "—" when the study has none."""
    labels = {"pmid": "PMID ", "doi": "DOI ", "nct": "", "pmcid": ""}
    return "\n".join(f"{label}{study[key]}" for key, label in labels.items()
                      if study.get(key)) or "—"


def _instruments(query: str | None) -> Shown:
    from lowdose.knowledge.instruments import load_instruments

    known = load_instruments()
    if query is not None and query not in known:
        raise InputError("INSTRUMENT", f"no instrument {query!r}; known: {', '.join(known)}")
    chosen = known.values() if query is None else [known[query]]
    # minimum and maximum are the total's range, worked out from the items
    shown = [{**asdict(i), "minimum": i.minimum, "maximum": i.maximum} for i in chosen]
    for instrument in shown:
        del instrument["origin"]  # a path on this machine, not a fact
    return {"instruments": shown}, _show_instruments


def _show_instruments(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    rows = [(f"{i['name']}\n{i['id']}", len(i["items"]), _range(i),
             ", ".join(f"{b['label']} {_range(b)}" for b in i["bands"]),
             f"{i['code']['system']} {i['code']['code']}",
             "—" if i["mid"] is None else f"{i['mid']['points']:g} ({i['mid']['basis']})",
             ", ".join(i["sources"])) for i in data["instruments"]]
    render.table(["instrument", "items", "total", "bands", "code", "MID", "sources"], rows,
                 title="Questionnaires and ratings")


def _range(row: dict[str, Any]) -> str:
    return f"{row['minimum']:g}–" + ("" if row["maximum"] is None else f"{row['maximum']:g}")


def _side_effects(query: str | None) -> Shown:
    from lowdose.knowledge.evidence import load_side_effects

    _no_query("side-effects", query)
    return load_side_effects().to_dict(), _show_side_effects


def _show_side_effects(data: dict[str, Any]) -> None:
    from lowdose.cli import render

    rows = [(s["name"], s["onset"], s["duration"], s["when_persisting"], ", ".join(s["sources"]))
            for s in data["side_effects"]]
    render.table(["side effect", "onset", "how long", "if it persists", "sources"], rows,
                 title="Side effects and their expected course")
    reds = [(r["name"], "; ".join(r["signs"]), r["action"], ", ".join(r["sources"]))
            for r in data["red_flags"]]
    render.table(["red flag", "signs", "what to do", "sources"], reds,
                 title="Red flags: a clinician now")


def _no_query(part: str, query: str | None) -> None:
    if query is not None:
        raise InputError("QUERY", f"`lowdose knowledge {part}` takes no query")


_PARTS: dict[str, Callable[[str | None], Shown]] = {
    "sources": _sources, "drugs": _drugs, "protocols": _protocols, "evidence": _evidence,
    "instruments": _instruments, "side-effects": _side_effects,
}
