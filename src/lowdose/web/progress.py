"""Is it working? The diary charted against the dose steps, side effects against their
expected course, the outcome summary with its uncertainty, and the monitoring flags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from starlette.responses import Response

from lowdose.errors import InputError
from lowdose.knowledge.instruments import load_instruments
from lowdose.knowledge.monitoring import load_monitoring_rules
from lowdose.services import checkins, courses, outcomes
from lowdose.services.checkins import CheckinView
from lowdose.web import charts, session
from lowdose.web.patient import Own, own_record
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router()

# The charts show the last 12 weeks: long enough to see a titration, short enough to read.
CHART_DAYS = 84
MIN_CHART_DAYS = 14


def dose_steps(request: Request, own: Own) -> list[charts.DoseStep]:
    """Every dose change of the patient's courses as it was prescribed at the time."""
    db = session.database(request)
    return prescribed_steps(courses.plan_versions(db, own.ctx, own.patient_id, course.id)
                            for course in courses.list_courses(db, own.ctx, own.patient_id)
                            if course.plan_version)


def prescribed_steps(histories: Iterable[list[courses.PlanVersionView]]
                     ) -> list[charts.DoseStep]:
    """The doses as they were prescribed over time: each plan version's steps until the next
    version took over, so a chart keeps the doses before a revision (an approved step back)."""
    steps = []
    for versions in histories:
        for index, version in enumerate(versions):
            later = versions[index + 1:]
            until = later[0].request.from_date if later else None
            steps += [charts.DoseStep(date.fromisoformat(step["from"]), float(step["dose_mg"]))
                      for step in version.plan["steps"]
                      if until is None or date.fromisoformat(step["from"]) < until]
    return sorted(steps, key=lambda s: s.start)


@router.get("/charts")
def charts_page(request: Request) -> Response:
    own = own_record(request)
    last = own.ctx.now.date()
    earliest = last - timedelta(days=CHART_DAYS - 1)
    diary = checkins.list_checkins(session.database(request), own.ctx, own.patient_id,
                                   date_from=earliest, date_to=last)
    steps = dose_steps(request, own)
    # Start where the diary or the plan starts (a new patient's week fills the chart),
    # showing at least two weeks.
    starts = [entry.date for entry in diary[:1]] + [s.start for s in steps if s.start >= earliest]
    first = max(earliest, min([*starts, last - timedelta(days=MIN_CHART_DAYS - 1)]))
    return render(request, "patient/charts.html", {
        "first": first, "last": last, "count": len(diary),
        "measures": _measure_charts(diary, steps, first, last),
        "effects": _effect_charts(diary, steps, first, last),
        "rules": load_monitoring_rules().side_effects})


def _measure_charts(diary: list[CheckinView], steps: list[charts.DoseStep], first: date,
                    last: date) -> list[dict[str, Any]]:
    names = {i.id: i.name for i in load_instruments().values() if i.kind == "rating"}
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for entry in diary:
        for measure, value in entry.ratings.items():
            series[measure].append((entry.date, float(value)))
    return [{"id": measure, "name": names.get(measure, measure.capitalize()),
             "svg": charts.measure_chart(names.get(measure, measure), points, steps, first,
                                         last),
             "points": points}
            for measure, points in sorted(series.items())]


def _effect_charts(diary: list[CheckinView], steps: list[charts.DoseStep], first: date,
                   last: date) -> list[dict[str, Any]]:
    rules = load_monitoring_rules().side_effects
    expected = [charts.Window(s.start, s.start + timedelta(days=rules.expected_days))
                for s in steps]
    felt: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for entry in diary:
        for effect in entry.side_effects:
            felt[effect.name.strip().lower()].append((entry.date, effect.severity))
    return [{"name": name, "days": days,
             "svg": charts.side_effect_chart(name.capitalize(), days, expected, steps, first,
                                             last)}
            for name, days in sorted(felt.items()) if any(s > 0 for _, s in days)]


@router.get("/outcomes")
def outcomes_page(request: Request) -> Response:
    own = own_record(request)
    db = session.database(request)
    report: dict[str, Any] | None = None
    missing: str | None = None
    try:
        report = outcomes.analyze_patient(db, own.ctx, own.patient_id).to_dict()
    except InputError as exc:
        missing = exc.message
    flags = outcomes.patient_flags(db, own.ctx, own.patient_id)
    return render(request, "patient/outcomes.html", {
        "report": report, "missing": missing, "flags": [f.to_dict() for f in flags],
        "effect_svg": _effect_svgs(report) if report else {}})


def _effect_svgs(report: dict[str, Any]) -> dict[str, Any]:
    svgs = {}
    for measure in report["measures"]:
        effect = measure["effect"]
        if effect is None:
            continue
        mid = measure["mid"]["points"] if measure["mid"] else None
        svgs[measure["measure"]] = charts.effect_chart(
            measure["measure"].capitalize(), effect["estimate"], effect["interval"]["low"],
            effect["interval"]["high"], mid, measure["direction"] == "lower-is-better")
    return svgs
