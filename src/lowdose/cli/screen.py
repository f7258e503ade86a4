"""`lowdose screen PROFILE.json` (or `-` for stdin): the safety screen (design §3.1 → §3.2)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lowdose.cli.inputs import emit_json, parse_model, read_json


def screen(
    profile: Annotated[str, typer.Argument(
        help="Profile JSON file (design §3.1), or - to read it from stdin.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Screen a profile: is it safe to start or continue LDN? Hold before surgery: by default
    the facts' hold, or LOWDOSE_HOLD_HOURS."""
    from lowdose.cli.settings import load_settings
    from lowdose.core.screening import screen as run_screen
    from lowdose.knowledge.screening import load_screening_knowledge
    from lowdose.schemas.screening import Profile

    parsed = parse_model(Profile, read_json(profile, "PROFILE"))
    result = run_screen(parsed.to_core(), load_screening_knowledge(),
                        hold_hours=load_settings().hold_hours)
    data = result.to_dict()
    if json_output:
        emit_json(data)
    else:
        show(data)


def show(data: dict[str, Any]) -> None:
    from rich.text import Text

    from lowdose.cli import render

    render.console.print(Text.assemble(("Screening verdict: ", "bold"),
                                       render.level(data["verdict"])))
    for finding in data["findings"]:
        render.console.print()
        about = finding.get("trigger") or ""
        if finding.get("matched"):
            about = f"{about} → {finding['matched']}" if about else finding["matched"]
        render.console.print(Text.assemble(render.level(finding["level"]),
                                           (f" {finding['code']}", "bold"),
                                           f"  {about}" if about else ""))
        render.console.print(f"  {finding['message']}")
        render.console.print(Text(f"  sources: {', '.join(finding['sources'])}", style="dim"))
    if not data["findings"]:
        render.console.print("No findings.")
    render.console.print()
    render.facts([("Earliest start", data.get("earliest_start"))])
    if data.get("perioperative"):
        periop = data["perioperative"]
        render.facts([("Last dose before surgery by", periop["last_dose_by"].replace("T", " ")),
                      ("Hold (hours)", periop["hold_hours"]),
                      ("Can meet the hold", periop["can_meet_hold"])])
    render.sources(s for f in data["findings"] for s in f["sources"])
    render.reminder()
