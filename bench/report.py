"""Benchmark: the visit report PDF of one patient-year with 4 charts (design §4: ≤ 2 s as a
whole process, ≤ 0.5 s warm in the server).

A SQLite record is built through the services: a clinic, a clinician on the patient's care
team, an LDN course stepped up weekly and 365 days of check-ins (60 before LDN; ratings, side
effects, missed doses). Timed, in the same run:
- `lowdose report PATIENT --as USER --out F.pdf` as a whole process (sign-in with argon2id,
  schema check, analysis, screen, 4 charts, PDF, sign-out), beside `python -c pass` and a
  bare process that only imports matplotlib + reportlab and draws the same 4 charts into a PDF;
- GET /api/v1/patients/{id}/report.pdf from a running uvicorn server (warm), and the service
  call in process;
- the reference: the bare matplotlib + reportlab calls for the same 4 charts and a PDF holding
  them, warm, in process.

Run: `.venv/bin python bench/report.py [--repeat N] [--write]`; `--write` puts the section
into bench/RESULTS.md (replacing an earlier one, keeping the others).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from results import write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Visit report PDF (bench/report.py)"
PASSWORD = "bench report password 1"
NOW = datetime(2025, 12, 31, 9, 0, tzinfo=UTC)
LDN_START = date(2025, 3, 2)
FIRST_DAY = date(2025, 1, 1)
BUDGET_PROCESS_S, BUDGET_WARM_S = 2.0, 0.5


def build_record(url: str) -> int:
    """A patient-year in a fresh database; returns the patient id."""
    from lowdose.security.policy import OPERATOR, Actor, Role
    from lowdose.services import accounts, careteams, courses, diary_csv, patients
    from lowdose.services.context import Context
    from lowdose.store import Database, migrate

    migrate(url)
    db = Database(url)
    operator = Context(OPERATOR, NOW, "bench")
    clinic = accounts.create_clinic(db, operator, "Bench clinic").id
    users = {role: accounts.create_user(db, operator, clinic_id=clinic, username=f"bench-{role}",
                                        password=PASSWORD, role=role)
             for role in ("admin", "clinician", "patient")}

    def ctx(role: str) -> Context:
        user = users[role]
        return Context(Actor(user.id, Role(user.role), clinic), NOW, "bench")

    patient = patients.create_patient(db, ctx("admin"), clinic_id=clinic,
                                      display_name="Bench Patient", synthetic=True,
                                      user_id=users["patient"].id).id
    team = careteams.create_care_team(db, ctx("admin"), clinic, "Bench team").id
    careteams.add_member(db, ctx("admin"), team, users["clinician"].id)
    careteams.assign_patient(db, ctx("admin"), team, patient)
    courses.start_course(db, ctx("clinician"), patient, started_on=LDN_START,
                         first_plan=courses.PlanRequest(from_date=LDN_START, start_mg=1.5,
                                                        step_mg=1.5, every_days=7,
                                                        target_mg=4.5))
    diary_csv.import_diary(db, ctx("patient"), patient, diary_year().encode("utf-8"))
    db.dispose()
    return patient


def diary_year(seed: int = 3) -> str:
    rng = random.Random(seed)
    lines = ["date,dose_taken,dose_mg,dose_time,ratings.pain,ratings.fatigue,ratings.sleep,"
             "side_effects,note"]
    for n in range(365):
        day = FIRST_DAY + timedelta(days=n)
        on = day >= LDN_START
        gain = 2.0 * min(1.0, max(0, (day - LDN_START).days) / 42) if on else 0.0
        dose = min(4.5, 1.5 * (1 + (day - LDN_START).days // 7)) if on else None
        taken = on and rng.random() > 0.08
        effects = ""
        if on and (day - LDN_START).days < 21 and rng.random() < 0.4:
            effects = f"{rng.choice(['vivid dreams', 'headache', 'nausea'])}:{rng.randint(1, 2)}"

        def rating(level: float) -> int:
            return max(0, min(10, round(level + rng.gauss(0, 0.9))))
        lines.append(",".join([
            day.isoformat(), ("yes" if taken else "no") if on else "",
            f"{dose:g}" if taken and dose else "", "22:00" if taken else "",
            str(rating(6.5 - gain)), str(rating(6 - gain)), str(rating(4 + gain / 2)),
            effects, ""]))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- reference


def bare_charts_pdf(series: dict[str, list[tuple[int, float]]], doses: list[tuple[int, float]],
                    weekly: list[tuple[int, float]]) -> bytes:
    """The same 4 charts with plain matplotlib calls (Agg, no styling) in a plain platypus
    PDF: the floor the libraries set."""
    from matplotlib.figure import Figure
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate

    def png(figure: Any) -> io.BytesIO:
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=150)
        out.seek(0)
        return out

    charts = []
    figure = Figure(figsize=(7, 1.9))
    figure.add_subplot().plot([d for d, _ in doses], [v for _, v in doses])
    charts.append(png(figure))
    figure = Figure(figsize=(7, 3.65))
    for i, values in enumerate(series.values(), 1):
        axes = figure.add_subplot(len(series), 1, i)
        axes.scatter([d for d, _ in values], [v for _, v in values], s=3)
    charts.append(png(figure))
    figure = Figure(figsize=(7, 1.3))
    figure.add_subplot().scatter([d for d, _ in doses[:40]], [1] * len(doses[:40]), s=9)
    charts.append(png(figure))
    figure = Figure(figsize=(7, 1.5))
    figure.add_subplot().bar([w for w, _ in weekly], [v for _, v in weekly], width=5.5)
    charts.append(png(figure))
    out = io.BytesIO()
    styles = getSampleStyleSheet()
    story = [Paragraph("Visit report", styles["Title"])]
    story += [Image(chart, width=480, height=480 * h) for chart, h in
              zip(charts, (1.9 / 7, 3.65 / 7, 1.3 / 7, 1.5 / 7), strict=True)]
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def reference_data() -> tuple[dict[str, list[tuple[int, float]]], list[tuple[int, float]],
                              list[tuple[int, float]]]:
    rows = [line.split(",") for line in diary_year().splitlines()[1:]]
    series = {name: [(date.fromisoformat(r[0]).toordinal(), float(r[col])) for r in rows]
              for name, col in (("pain", 4), ("fatigue", 5), ("sleep", 6))}
    doses = [(date.fromisoformat(r[0]).toordinal(), float(r[2])) for r in rows if r[2]]
    weekly = [(doses[i][0], 100.0) for i in range(0, len(doses), 7)]
    return series, doses, weekly


BARE_PROCESS = """
import sys
sys.path.insert(0, {bench!r})
from report import bare_charts_pdf, reference_data
open({out!r}, "wb").write(bare_charts_pdf(*reference_data()))
"""


# -------------------------------------------------------------------------------- timing


def timed(call: Callable[[], object], repeat: int, warmup: int = 2,
          cpu: list[float] | None = None) -> list[float]:
    """Wall-clock samples; with `cpu`, this process's CPU time per call is added to it."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        samples.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - cpu_started)
    return samples


CPU: dict[str, list[float]] = {}


def run_process(argv: Sequence[str], env: dict[str, str], name: str) -> Callable[[], None]:
    """A process to time; its CPU time (user + system) is kept in CPU[name] as well, since on
    a shared machine the wall clock is mostly waiting for a core."""
    def call() -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        CPU.setdefault(name, []).append(after.ru_utime - before.ru_utime
                                        + after.ru_stime - before.ru_stime)
    return call


def serve(url: str, data_dir: Path) -> tuple[Any, str]:
    import socket

    import uvicorn

    from lowdose.api.app import create_app
    from lowdose.settings import Settings

    app = create_app(Settings(mode="development", data_dir=data_dir, database_url=url,
                              secret_key="bench-secret", hold_hours=None))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():  # start-up failed: say so instead of waiting forever
            raise RuntimeError("the server did not start (its error is above)")
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, round(0.95 * len(samples)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    import httpx

    from lowdose.security.policy import Actor, Role
    from lowdose.services import accounts, reports
    from lowdose.services.context import Context
    from lowdose.store import Database

    work = Path(tempfile.mkdtemp(prefix="lowdose-bench-report-"))
    url = f"sqlite:///{work / 'bench.sqlite3'}"
    patient = build_record(url)
    lowdose = Path(sys.executable).with_name("lowdose")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWDOSE_")}
    env.update(LOWDOSE_DATABASE_URL=url, LOWDOSE_DATA_DIR=str(work / "data"),
               LOWDOSE_PASSWORD=PASSWORD)
    out = work / "visit.pdf"
    process = timed(run_process([str(lowdose), "report", str(patient), "--as",
                                 "bench-clinician", "--out", str(out)], env, "report"), args.repeat)
    bare_process = timed(run_process([sys.executable, "-c", BARE_PROCESS.format(
        bench=str(ROOT / "bench"), out=str(work / "bare.pdf"))], env, "bare"), args.repeat)
    empty = timed(run_process([sys.executable, "-c", "pass"], env, "pass"), args.repeat)
    for name, samples in CPU.items():
        CPU[name] = samples[-args.repeat:]  # the warm-up runs are not counted

    db = Database(url)
    with db.transaction(write=False) as session:
        from sqlalchemy import select

        from lowdose.store.models import User
        user = session.scalars(select(User).where(User.username == "bench-clinician")).one()
        ctx = Context(Actor(user.id, Role.CLINICIAN, user.clinic_id), NOW, "bench")
    service_cpu: list[float] = []
    service = timed(lambda: reports.visit_report(db, ctx, patient), args.repeat,
                    cpu=service_cpu)
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(reports.visit_report(db, ctx, patient))).pages)
    model = timed(lambda: reports.visit_report_model(db, ctx, patient), args.repeat)
    data = reference_data()
    bare_cpu: list[float] = []
    bare = timed(lambda: bare_charts_pdf(*data), args.repeat, cpu=bare_cpu)
    token = accounts.login(db, username="bench-clinician", password=PASSWORD,
                           now=datetime.now(UTC)).token
    server, base = serve(url, work / "data")
    with httpx.Client(base_url=base, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        def fetch() -> None:
            response = client.get(f"/api/v1/patients/{patient}/report.pdf")
            assert response.status_code == 200, response.text
        http = timed(fetch, args.repeat)
    server.should_exit = True
    db.dispose()

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    verdict = {True: "within budget", False: "OVER budget"}
    lines = [
        SECTION, "",
        f"One patient-year (365 check-ins, 3 measures, 3 dose steps), 4 charts, {pages} pages; "
        f"{args.repeat} runs each after 2 warm-up runs; load average {load} on "
        f"{os.cpu_count()} cores.", "",
        "| what | median | p95 | budget / reference |", "|---|---|---|---|",
        f"| `lowdose report` as a whole process | {median(process):.2f} s | "
        f"{p95(process):.2f} s | ≤ {BUDGET_PROCESS_S:g} s: "
        f"{verdict[median(process) <= BUDGET_PROCESS_S]}; "
        f"{median(process) / median(bare_process):.1f}× the bare process |",
        f"| … its CPU time (user + system) | {median(CPU['report']):.2f} s | "
        f"{p95(CPU['report']):.2f} s | {median(CPU['report']) / median(CPU['bare']):.1f}× "
        "the bare process's |",
        f"| reference: bare matplotlib + reportlab process, same 4 charts | "
        f"{median(bare_process):.2f} s | {p95(bare_process):.2f} s | — |",
        f"| … its CPU time | {median(CPU['bare']):.2f} s | {p95(CPU['bare']):.2f} s | — |",
        f"| `python -c pass` | {median(empty) * 1000:.0f} ms | {p95(empty) * 1000:.0f} ms | — |",
        f"| GET report.pdf, warm server (loopback HTTP) | {median(http) * 1000:.0f} ms | "
        f"{p95(http) * 1000:.0f} ms | ≤ {BUDGET_WARM_S * 1000:.0f} ms: "
        f"{verdict[median(http) <= BUDGET_WARM_S]}; "
        f"{median(http) / median(bare):.1f}× the bare calls |",
        f"| `services.reports.visit_report` in process, warm | "
        f"{median(service) * 1000:.0f} ms | {p95(service) * 1000:.0f} ms | "
        f"{median(service) / median(bare):.1f}× the bare calls |",
        f"| … its CPU time | {median(service_cpu) * 1000:.0f} ms | "
        f"{p95(service_cpu) * 1000:.0f} ms | ≤ {BUDGET_WARM_S * 1000:.0f} ms: "
        f"{verdict[median(service_cpu) <= BUDGET_WARM_S]}; "
        f"{median(service_cpu) / median(bare_cpu):.1f}× the bare calls' |",
        f"| … of which the report model (record, analysis, flags, screen) | "
        f"{median(model) * 1000:.0f} ms | {p95(model) * 1000:.0f} ms | — |",
        f"| reference: bare matplotlib + reportlab calls, same 4 charts, warm | "
        f"{median(bare) * 1000:.0f} ms | {p95(bare) * 1000:.0f} ms | — |",
        f"| … its CPU time | {median(bare_cpu) * 1000:.0f} ms | "
        f"{p95(bare_cpu) * 1000:.0f} ms | — |",
        "",
        "The process signs in (argon2id), checks the schema, reads and analyses the record, "
        "draws and lays out the report, and signs out, with the cycle collector off (it runs "
        "once and exits); the bare process only imports the two libraries and draws, with "
        "Python's defaults. In process, both the report and the bare calls write binary "
        "streams (the report switches off reportlab's ASCII85 for the process). Absolute "
        "times move with the machine's load: compare ratios.",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
