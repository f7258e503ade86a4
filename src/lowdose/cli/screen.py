"""`lowdose screen PROFILE.json` (or `-` for stdin): the safety screen (design §3.1 → §3.2)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lowdose.cli.inputs import emit_json, parse_model, parse_zone, read_json


def screen(
    profile: Annotated[str, typer.Argument(
        help="Profile JSON file (design §3.1), or - to read it from stdin.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timezone: Annotated[str | None, typer.Option(
        help="Where the profile's times are, e.g. Europe/London, so a daylight-saving change "
             "counts in the hold before surgery [default: the profile's `timezone`, else "
             "this machine's].")] = None,
) -> None:
    """Screen a profile: is it safe to start or continue LDN? The hold before surgery is
    LOWDOSE_HOLD_HOURS, else the facts'."""
    from lowdose.cli.settings import load_settings
    from lowdose.core.screening import screen as run_screen
    from lowdose.knowledge.screening import load_screening_knowledge
    from lowdose.schemas.screening import Profile

    parsed = parse_model(Profile, read_json(profile, "PROFILE"))
    given = parse_zone("--timezone", timezone) if timezone is not None else parsed.zone()
    zone = given or parse_zone("--timezone", None)
    result = run_screen(parsed.to_core(), load_screening_knowledge(),
                        hold_hours=load_settings().hold_hours, zone=zone)
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        show(data)


def show(data: dict[str, Any]) -> None:
    from rich.padding import Padding
    from rich.text import Text

    from lowdose.cli import render

    out = render.console
    out.print(Text.assemble(("Screening verdict: ", "bold"), render.level(data["verdict"])))
    for finding in data["findings"]:
        out.print()
        out.print(Text.assemble(render.level(finding["level"]), (f" {finding['code']}", "bold"),
                                f"  {_about(finding)}"))
        out.print(Padding(Text(finding["message"]), (0, 0, 0, 2), expand=False))
        out.print(Padding(Text(f"sources: {', '.join(finding['sources'])}", style="dim"),
                          (0, 0, 0, 2), expand=False))
    if not data["findings"]:
        out.print("No findings.")
    out.print()
    rows: list[tuple[str, Any]] = []
    if data.get("earliest_start"):
        rows.append(("Earliest start", data["earliest_start"]))
    periop = data.get("perioperative")
    if periop:
        rows += [("Last dose before surgery by", periop["last_dose_by"].replace("T", " ")),
                 ("Hold (hours)", periop["hold_hours"]),
                 ("Can meet the hold", periop["can_meet_hold"])]
    render.facts(rows)
    render.sources(s for f in data["findings"] for s in f["sources"])
    render.reminder()


def _about(finding: dict[str, Any]) -> str:
    """What set the finding off, and what lowdose read it as when that differs."""
    trigger, matched = finding.get("trigger") or "", finding.get("matched")
    if matched and matched.casefold() != trigger.casefold():
        return f"{trigger} → {matched}" if trigger else matched
    return trigger
