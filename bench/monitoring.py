"""Benchmark: the monitoring flags of a whole clinic (10,000 patients × 365 days) in one pass.

The panel never computes flags when it is read: each write refreshes its patient's status line
(bench/panel.py times the read). This measures the whole clinic at once, as after a change of
the monitoring rules: one query for every patient's recent window (monitoring.toml's lookback,
so the cost does not grow with diary length), one for the running plans, then the pure core
`monitor` per patient. Uses the clinics bench/panel.py builds and caches.

Run: `.venv/bin/python bench/monitoring.py [--write]` (`--write` updates bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import panel as clinic  # bench/panel.py: the cached clinics
from results import write_section

SECTION = "## Monitoring flags, whole clinic (bench/monitoring.py)"


def whole_clinic(url: str) -> dict[str, Any]:
    from sqlalchemy import select

    from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
    from lowdose.core.monitoring import monitor
    from lowdose.knowledge.evidence import load_side_effects
    from lowdose.knowledge.instruments import load_instruments
    from lowdose.knowledge.monitoring import load_monitoring_rules
    from lowdose.store import Database
    from lowdose.store.models import Checkin, LdnCourse, PlanVersion

    rules, course, instruments = load_monitoring_rules(), load_side_effects(), load_instruments()
    today = datetime.now(UTC).date()
    since = today - timedelta(days=rules.window.lookback_days - 1)
    db = Database(url)
    try:
        started = time.perf_counter()
        with db.transaction(write=False) as session:
            rows = session.execute(
                select(Checkin.patient_id, Checkin.date, Checkin.dose_taken, Checkin.dose_mg,
                       Checkin.dose_time, Checkin.ratings, Checkin.side_effects)
                .where(Checkin.date >= since, Checkin.date <= today)
                .order_by(Checkin.patient_id, Checkin.date)).all()
            plans = session.execute(
                select(LdnCourse.patient_id, PlanVersion.plan)
                .join(PlanVersion, PlanVersion.course_id == LdnCourse.id)
                .where(LdnCourse.ended_on.is_(None))
                .order_by(LdnCourse.patient_id, PlanVersion.version)).all()
        loaded = time.perf_counter()
        diaries: dict[int, list[CheckIn]] = defaultdict(list)
        for r in rows:
            diaries[r.patient_id].append(CheckIn(
                day=r.date, dose_taken=r.dose_taken, dose_mg=r.dose_mg, dose_time=r.dose_time,
                ratings=dict(r.ratings),
                side_effects=tuple(SideEffect(str(e["name"]), int(e["severity"]))
                                   for e in r.side_effects or ())))
        steps: dict[int, list[PlannedDose]] = {}
        for patient_id, plan in plans:  # the newest version last, so it wins
            steps[patient_id] = [PlannedDose(date.fromisoformat(s["from"]), float(s["dose_mg"]))
                                 for s in plan["steps"]]
        converted = time.perf_counter()
        flagged = urgent = 0
        for patient_id in set(diaries) | set(steps):
            flags = monitor(diaries.get(patient_id, []), today=today, rules=rules,
                            course=course, plan=steps.get(patient_id, ()),
                            instruments=instruments)
            flagged += bool(flags)
            urgent += any(f.level == "urgent" for f in flags)
        done = time.perf_counter()
        return {"patients": len(set(diaries) | set(steps)), "rows": len(rows),
                "load": loaded - started, "convert": converted - loaded,
                "monitor": done - converted, "total": done - started, "flagged": flagged,
                "urgent": urgent}
    finally:
        db.dispose()


def report(args: argparse.Namespace) -> str:
    backends = [("SQLite", clinic.sqlite_url(args.patients, args.days))]
    if not args.no_postgres:
        backends.append(("PostgreSQL", clinic.pg_url(args.patients, args.days)))
    lines = [SECTION, "", f"{args.patients:,} patients × {args.days} days; load average "
             f"{clinic._load()} (shared machine).", "",
             "| | rows read | read (SQL) | to core types | `monitor`, every patient | total "
             "| per patient | with flags (urgent) |", "|---|---|---|---|---|---|---|---|"]
    for name, url in backends:
        clinic.built(url, args.patients, args.days)
        r = whole_clinic(url)
        lines.append(f"| {name} | {r['rows']:,} | {r['load']:.2f} s | {r['convert']:.2f} s | "
                     f"{r['monitor']:.2f} s | {r['total']:.2f} s | "
                     f"{1000 * r['total'] / r['patients']:.2f} ms | "
                     f"{r['flagged']:,} ({r['urgent']:,}) |")
    lines += ["", "The panel itself reads the stored status lines (bench/panel.py); this full "
                  "pass is what a change of the monitoring rules would cost, once.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
