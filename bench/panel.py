"""Benchmark: the clinic panel at 10,000 patients × 365 days (design §4), SQLite and PostgreSQL.

Budget: the first flagged page ≤ 300 ms on both databases, and ≤ 3× the reference run beside
it: DuckDB scanning the same diary rows (every patient's last 14 days of pain against their
first 21, the question a diary-reading panel would ask). Its cost must not grow with diary
length: the panel reads one status line per patient, so the same clinic at fewer diary days is
timed too.

Also measured: generating the clinic (`lowdose demo --patients N --days D --no-serve`), and the
monitoring flags of the whole clinic (every patient's status line recomputed from the stored
diary, which is what the writes pay one patient at a time).

Clinics are built once and cached: SQLite files in bench/.cache/, PostgreSQL databases named
lowdose_bench_<patients>x<days>. Run: `.venv/bin/python bench/panel.py [--write]`
(`--write` puts the section into bench/RESULTS.md, keeping the other sections).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results import write_section

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
LOWDOSE = Path(sys.executable).with_name("lowdose")
PG_SERVER = os.environ.get("LOWDOSE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
BUDGET_MS = 300.0
RATIO = 3.0
SECTION = "## Clinic panel (bench/panel.py)"


def sqlite_url(patients: int, days: int) -> str:
    return f"sqlite:///{CACHE / f'clinic-{patients}x{days}.sqlite3'}"


def pg_url(patients: int, days: int) -> str:
    return f"{PG_SERVER}/lowdose_bench_{patients}x{days}"


def built(url: str, patients: int, days: int) -> dict[str, Any]:
    """The clinic at `url`, generated unless cached; returns how long generating took."""
    marker = CACHE / (url.rsplit("/", 1)[1].replace(".sqlite3", "") + ".built.json")
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    CACHE.mkdir(exist_ok=True)
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            name = url.rsplit("/", 1)[1]
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {name}")
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    started, cpu = time.perf_counter(), _children_cpu()
    run = subprocess.run([str(LOWDOSE), "demo", "--patients", str(patients), "--days",
                          str(days), "--no-serve", "--json", "--seed", "1",
                          "--database-url", url], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    info = {"seconds": seconds, "cpu_seconds": _children_cpu() - cpu,
            "accounts": json.loads(run.stdout)["accounts"]}
    marker.write_text(json.dumps(info))
    return info


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list[float]] = {}  # process CPU time per call, by what was timed


def timed(call: Callable[[], object], runs: int, warmup: int = 3,
          label: str | None = None) -> list[float]:
    """Wall-clock milliseconds per call; the process's CPU milliseconds go to CPU[label] (on
    a shared machine the wall clock also counts waiting for a core)."""
    for _ in range(warmup):
        call()
    samples, cpu = [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    if label:
        CPU[label] = cpu
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def clinician(db: Any) -> Any:
    from sqlalchemy import select

    from lowdose.security.policy import Actor, Role
    from lowdose.services.context import Context
    from lowdose.store.models import User

    with db.transaction() as session:
        user = session.scalars(select(User).where(User.username == "demo-clinician-01")).one()
        return Context(Actor(user.id, Role.CLINICIAN, user.clinic_id), datetime.now(UTC),
                       "bench")


def measure_panel(url: str, runs: int) -> dict[str, Any]:
    from lowdose.services import panel
    from lowdose.store import Database

    db = Database(url)
    try:
        ctx = clinician(db)
        first = panel.clinic_panel(db, ctx)
        flagged = timed(lambda: panel.clinic_panel(db, ctx), runs, label=f"{url}:first")
        attention = timed(lambda: panel.clinic_panel(db, ctx, level="attention"), runs)
        searched = timed(lambda: panel.clinic_panel(db, ctx, search="patient 09"), runs)
        return {"first": summary(flagged), "first_cpu": summary(CPU[f"{url}:first"]),
                "attention": summary(attention),
                "search": summary(searched), "total": first.total,
                "groups": [r.group for r in first.rows]}
    finally:
        db.dispose()


def measure_duckdb(url: str, runs: int) -> dict[str, Any]:
    """The same diary rows in DuckDB (loaded first, not timed), scanned per patient."""
    import duckdb
    import pandas as pd
    from sqlalchemy import text

    from lowdose.store import Database

    db = Database(url)
    try:
        with db.transaction(write=False) as session:
            rows = session.execute(text("SELECT patient_id, date, ratings FROM checkins")).all()
    finally:
        db.dispose()
    frame = pd.DataFrame({
        "patient_id": [r[0] for r in rows],
        "day": pd.to_datetime([str(r[1]) for r in rows]),
        "pain": [(r[2] if isinstance(r[2], dict) else json.loads(r[2])).get("pain")
                 for r in rows]})
    connection = duckdb.connect()
    connection.register("diary", frame)
    connection.execute("CREATE TABLE checkins AS SELECT * FROM diary")
    query = """
        WITH bounds AS (SELECT patient_id, min(day) AS first, max(day) AS last
                        FROM checkins GROUP BY patient_id)
        SELECT c.patient_id,
               avg(pain) FILTER (WHERE day > last - INTERVAL 14 DAY) AS recent,
               avg(pain) FILTER (WHERE day < first + INTERVAL 21 DAY) AS baseline
        FROM checkins c JOIN bounds USING (patient_id)
        GROUP BY c.patient_id ORDER BY recent - baseline DESC NULLS LAST LIMIT 25"""
    samples = timed(lambda: connection.execute(query).fetchall(), runs, label="duckdb")
    connection.close()
    return {"scan": summary(samples), "scan_cpu": summary(CPU["duckdb"]), "rows": len(rows)}


def measure_flags(url: str) -> dict[str, Any]:
    """Every patient's status line recomputed from the stored diary (monitoring flags)."""
    from sqlalchemy import select

    from lowdose.services._panel_status import status_values
    from lowdose.store import Database
    from lowdose.store.models import Patient

    db = Database(url)
    try:
        today = datetime.now(UTC).date()
        with db.transaction(write=False) as session:
            patients = session.execute(select(Patient.id, Patient.clinic_id)).all()
            started = time.perf_counter()
            flagged = 0
            for patient_id, clinic_id in patients:
                line = status_values(session, patient_id=patient_id, clinic_id=clinic_id,
                                     today=today, at=datetime.now(UTC).replace(tzinfo=None))
                flagged += bool(line["flags"])
            seconds = time.perf_counter() - started
        return {"seconds": seconds, "patients": len(patients), "with_flags": flagged}
    finally:
        db.dispose()


def verdict(median_ms: float, reference_ms: float) -> str:
    ok = median_ms <= BUDGET_MS and median_ms <= RATIO * reference_ms
    return "within budget" if ok else "OVER budget"


def report(args: argparse.Namespace) -> str:
    lines = [SECTION, "",
             f"{args.patients:,} synthetic patients × {args.days} days of diary "
             f"(`lowdose demo --patients {args.patients} --days {args.days} --no-serve`), "
             f"as `demo-clinician-01`, whose care team holds every patient; {args.runs} runs "
             f"after 3 warm-up runs; each panel read also appends 25 audit events.", ""]
    backends = [("SQLite", sqlite_url(args.patients, args.days))]
    if not args.no_postgres:
        backends.append(("PostgreSQL", pg_url(args.patients, args.days)))
    rows = ["| what | SQLite | PostgreSQL |", "|---|---|---|"]
    found: dict[str, dict[str, Any]] = {}
    for name, url in backends:
        made = built(url, args.patients, args.days)
        result = measure_panel(url, args.runs)
        result["built"] = (made["seconds"], made.get("cpu_seconds"))
        result["duck"] = measure_duckdb(url, args.runs) if name == "SQLite" else None
        result["flags"] = measure_flags(url)
        found[name] = result
        print(f"{name}: {json.dumps(result, default=str)}", file=sys.stderr)
    duck = found["SQLite"]["duck"]

    def cell(name: str, key: str) -> str:
        if name not in found:
            return "—"
        med, p95 = found[name][key]
        return f"{med:.1f} ms (p95 {p95:.1f})"

    rows.append(f"| first page (sorted by urgency, 25 rows) | {cell('SQLite', 'first')} | "
                f"{cell('PostgreSQL', 'first')} |")
    rows.append("| … its CPU time in this process (the rest is waiting for a core) | " + " | ".join(
        f"{found[n]['first_cpu'][0]:.1f} ms" if n in found else "—"
        for n in ("SQLite", "PostgreSQL")) + " |")
    rows.append(f"| first page, `level=attention` | {cell('SQLite', 'attention')} | "
                f"{cell('PostgreSQL', 'attention')} |")
    rows.append(f"| name search | {cell('SQLite', 'search')} | {cell('PostgreSQL', 'search')} |")
    rows.append(f"| reference: DuckDB scan of the same {duck['rows']:,} diary rows | "
                f"{duck['scan'][0]:.1f} ms (p95 {duck['scan'][1]:.1f}) | (same scan) |")
    rows.append(f"| … DuckDB's CPU time (its own threads included) | "
                f"{duck['scan_cpu'][0]:.1f} ms | |")
    ratios = {n: found[n]["first"][0] / duck["scan"][0] for n in found}
    rows.append("| first page ÷ DuckDB scan (budget ≤ 3×) | " + " | ".join(
        f"{ratios[n]:.2f}×" if n in ratios else "—" for n in ("SQLite", "PostgreSQL")) + " |")
    rows.append("| budget (≤ 300 ms and ≤ 3× the scan) | " + " | ".join(
        verdict(found[n]["first"][0], duck["scan"][0]) if n in found else "—"
        for n in ("SQLite", "PostgreSQL")) + " |")
    rows.append("| monitoring flags of the whole clinic (every status line recomputed) | "
                + " | ".join(_flags(found.get(n)) for n in ("SQLite", "PostgreSQL")) + " |")
    rows.append("| generating the clinic (`lowdose demo`, once, cached): wall clock (CPU) | "
                + " | ".join(_built(found.get(n)) for n in ("SQLite", "PostgreSQL")) + " |")
    lines += rows
    if args.short_days:
        short = sqlite_url(args.patients, args.short_days)
        built(short, args.patients, args.short_days)
        small = measure_panel(short, args.runs)
        lines += ["", f"Cost against diary length (SQLite): the first page at {args.days} days "
                      f"took {found['SQLite']['first'][0]:.1f} ms, at {args.short_days} days "
                      f"{small['first'][0]:.1f} ms: the panel reads status lines, not diaries."]
    lines += ["", f"First page groups: {', '.join(dict.fromkeys(found['SQLite']['groups']))}.",
              "", f"Load average during the run: {_load()} (the machine is shared).",
              "", f"machine: {platform.machine()}, {os.cpu_count()} cores, "
              f"{platform.python_implementation()} {platform.python_version()}, "
              f"{datetime.now(UTC).date().isoformat()}", ""]
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _built(result: dict[str, Any] | None) -> str:
    if result is None:
        return "—"
    wall, cpu = result["built"]
    return f"{wall / 60:.1f} min" + ("" if cpu is None else f" ({cpu / 60:.1f} min CPU)")


def _flags(result: dict[str, Any] | None) -> str:
    if result is None:
        return "—"
    flags = result["flags"]
    return (f"{flags['seconds']:.1f} s ({1000 * flags['seconds'] / flags['patients']:.2f} ms "
            f"per patient; {flags['with_flags']:,} with flags)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--short-days", type=int, default=0,
                        help="also time the same clinic with this many days (0: skip)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    text = report(args)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
