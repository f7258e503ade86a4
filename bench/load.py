"""A clinic morning under load: mixed patient and clinician traffic at a fixed rate against a
10,000-patient clinic (issue 7 item 6: 50 requests/s for 10 minutes, 0 errors, p95 ≤ 200 ms,
p99 ≤ 500 ms, memory ≤ 300 MB per worker).

The clinic is the cached 10,000 patients × 365 days SQLite database that bench/panel.py builds
(`bench/.cache/clinic-10000x365.sqlite3` with its sign-ins in `….built.json`). It is copied to
a temporary directory first (the load writes check-ins; the cache is never touched) and served
by `lowdose serve --workers 2` (as a clinic deploys it: several workers sharing the database,
one per core on the 2-core benchmark machine; `--workers` changes it) in its own process.

The load is open-loop: request n is due at start + n / rate whatever happened to the ones
before it, so a slow server meets a growing queue instead of a politely waiting client.
Latency is counted from the moment a request was due (not when the client got round to sending
it), so client-side lag counts against us rather than hiding server stalls. The mix, like a
clinic morning: the 24 patients with logins read who they are, their courses, their diary and
their outcomes and write a check-in (a new date each time, with an `Idempotency-Key`); the
clinicians page and filter their panel and open patients' flags, outcomes and diaries; both
also load their web home pages (`/today`, `/clinic/panel`) with a cookie session. Each server
process's resident memory (VmRSS) and CPU time are polled every second: the budget is per
worker. Memory that still grows in the second half of a run the server keeps up with is a
leak; growth only while requests queue up is the backlog.

Writes (or replaces) the "Load" section of bench/RESULTS.md with `--write`.
Run: `.venv/bin/python bench/load.py [--minutes 10] [--rate 50] [--write]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from results import write_section
from serving import serving

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
CLINIC = CACHE / "clinic-10000x365.sqlite3"
ACCOUNTS = CACHE / "clinic-10000x365.built.json"
SECTION = "## Load (bench/load.py)"
FIRST_DAY = date(2000, 1, 1)  # before the demo's diaries: every check-in is a new date
TIMEOUT_S = 10.0
CONNECTIONS = 64  # keep-alive connections the load shares (a clinic's browsers and apps)
BUDGET_P95_S, BUDGET_P99_S, BUDGET_RSS_MB = 0.200, 0.500, 300.0
SEED = 7
TRIVIAL = "reference: GET /api/v1/health (trivial endpoint)"  # timed alone, not in the mix


# ------------------------------------------------------------------------------ users


@dataclass
class Patient:
    patient_id: int
    token: str
    web: str  # the Cookie header of a signed-in browser
    next_day: Iterator[int] = field(default_factory=itertools.count)


@dataclass
class Clinician:
    username: str
    token: str
    web: str  # the Cookie header of a signed-in browser
    patient_ids: list[int]


def _signed_in_cookies(client: httpx.Client, username: str, password: str) -> str:
    """A browser-like sign-in: the form's CSRF token, then the session cookie."""
    client.cookies.clear()
    page = client.get("/signin")
    page.raise_for_status()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if found is None:
        raise RuntimeError("the sign-in page has no CSRF token")
    answer = client.post("/signin", data={"username": username, "password": password,
                                          "csrf_token": found.group(1)},
                         follow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"web sign-in of {username} answered {answer.status_code}")
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    client.cookies.clear()
    return cookies


def sign_in(port: int, accounts: list[dict[str, object]]
            ) -> tuple[list[Patient], list[Clinician]]:
    patients, clinicians = [], []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for account in accounts:
            username, password = str(account["username"]), str(account["password"])
            if account["role"] not in ("patient", "clinician"):
                continue
            answer = client.post("/api/v1/auth/token",
                                 data={"username": username, "password": password})
            answer.raise_for_status()
            token = answer.json()["access_token"]
            web = _signed_in_cookies(client, username, password)
            if account["role"] == "patient":
                patients.append(Patient(int(str(account["patient_id"])), token, web))
                continue
            # The patients this clinician may open: the first pages of their own panel.
            ids: list[int] = []
            for offset in (0, 200, 400):
                panel = client.get("/api/v1/panel", params={"limit": 200, "offset": offset},
                                   headers={"Authorization": f"Bearer {token}"})
                panel.raise_for_status()
                ids += [row["patient_id"] for row in panel.json()["rows"] if row["detail"]]
            if ids:
                clinicians.append(Clinician(username, token, web, ids))
    if not patients or not clinicians:
        raise RuntimeError("the clinic needs patient and clinician sign-ins")
    return patients, clinicians


# ------------------------------------------------------------------------------ mix


@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    params: dict[str, str | int] | None = None
    headers: dict[str, str] | None = None
    body: dict[str, object] | None = None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _session(cookies: str) -> dict[str, str]:
    return {"Cookie": cookies}


def _no_cookie_jar() -> http.cookiejar.CookieJar:
    # One client speaks for every user: a cookie one answer sets must never ride on another
    # user's request, so the jar accepts none (each web request carries its own Cookie header).
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _checkin(patient: Patient) -> Request:
    n = next(patient.next_day)
    day = FIRST_DAY + timedelta(days=n)
    body: dict[str, object] = {
        "date": day.isoformat(), "dose_taken": True, "dose_mg": 1.5, "dose_time": "22:05",
        "ratings": {"pain": n % 11, "fatigue": 5, "sleep": 7},
        "side_effects": [{"name": "vivid dreams", "severity": 1}], "note": "load bench"}
    headers = _bearer(patient.token) | {
        "Idempotency-Key": f"load-{patient.patient_id}-{day.isoformat()}"}
    return Request("patient: POST check-in", "POST",
                   f"/api/v1/patients/{patient.patient_id}/checkins", headers=headers,
                   body=body)


PatientKind = Callable[[Patient], Request]
ClinicianKind = Callable[[Clinician, random.Random], Request]

PATIENT_KINDS: list[tuple[int, PatientKind]] = [
    (10, lambda p: Request("patient: GET /me", "GET", "/api/v1/me", headers=_bearer(p.token))),
    (10, lambda p: Request("patient: GET courses", "GET",
                           f"/api/v1/patients/{p.patient_id}/courses",
                           headers=_bearer(p.token))),
    (10, _checkin),
    (8, lambda p: Request("patient: GET check-ins (30 days)", "GET",
                          f"/api/v1/patients/{p.patient_id}/checkins",
                          params={"from": (date.today() - timedelta(days=30)).isoformat()},
                          headers=_bearer(p.token))),
    (5, lambda p: Request("patient: GET outcomes", "GET",
                          f"/api/v1/patients/{p.patient_id}/outcomes",
                          headers=_bearer(p.token))),
    (5, lambda p: Request("patient: web /today", "GET", "/today", headers=_session(p.web))),
]

CLINICIAN_KINDS: list[tuple[int, ClinicianKind]] = [
    (10, lambda c, r: Request("clinician: GET panel (first page)", "GET", "/api/v1/panel",
                              headers=_bearer(c.token))),
    (5, lambda c, r: Request("clinician: GET panel (filtered, paged)", "GET", "/api/v1/panel",
                             params={"level": r.choice(["urgent", "attention"]),
                                     "offset": r.choice([0, 25, 50])},
                             headers=_bearer(c.token))),
    (2, lambda c, r: Request("clinician: GET panel (name search)", "GET", "/api/v1/panel",
                             params={"q": r.choice(["an", "ma", "el", "jo"])},
                             headers=_bearer(c.token))),
    (8, lambda c, r: Request("clinician: GET a patient's flags", "GET",
                             f"/api/v1/patients/{r.choice(c.patient_ids)}/flags",
                             headers=_bearer(c.token))),
    (6, lambda c, r: Request("clinician: GET a patient's outcomes", "GET",
                             f"/api/v1/patients/{r.choice(c.patient_ids)}/outcomes",
                             headers=_bearer(c.token))),
    (6, lambda c, r: Request("clinician: GET a patient's check-ins", "GET",
                             f"/api/v1/patients/{r.choice(c.patient_ids)}/checkins",
                             params={"from": (date.today() - timedelta(days=90)).isoformat()},
                             headers=_bearer(c.token))),
    (5, lambda c, r: Request("clinician: web /clinic/panel", "GET", "/clinic/panel",
                             headers=_session(c.web))),
]


def traffic(patients: list[Patient], clinicians: list[Clinician],
            rng: random.Random) -> Iterator[Request]:
    """An endless, reproducible clinic morning: 48 % patient, 52 % clinician requests."""
    kinds: list[tuple[int, Callable[[], Request]]] = []
    for weight, make in PATIENT_KINDS:
        kinds.append((weight, lambda make=make: make(rng.choice(patients))))  # type: ignore[misc]
    for weight, make_c in CLINICIAN_KINDS:
        kinds.append((weight, lambda make_c=make_c: make_c(rng.choice(clinicians), rng)))  # type: ignore[misc]
    makers = [make for _, make in kinds]
    weights = [weight for weight, _ in kinds]
    while True:
        yield rng.choices(makers, weights)[0]()


# ------------------------------------------------------------------------------ load


@dataclass
class Kind:
    """What one kind of request measured."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] if ordered else 0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def count(self) -> int:
        return len(self.latencies) + self.error_count

    def absorb(self, other: Kind) -> None:
        self.latencies += other.latencies
        for reason, n in other.errors.items():
            self.errors[reason] = self.errors.get(reason, 0) + n


@dataclass
class Run:
    rate: float
    seconds: float
    workers: int
    kinds: dict[str, Kind]
    elapsed: float  # from the first request due to the last answer
    sent: int
    processes: list[ServerProcess]  # the server's, each with its own memory and CPU time
    late_starts: int  # requests the client itself started > 50 ms after they were due
    alone: dict[str, list[float]]  # each kind's times one at a time, before the load

    @property
    def overall(self) -> Kind:
        total = Kind("all requests")
        for kind in self.kinds.values():
            total.absorb(kind)
        return total

    @property
    def cost_alone(self) -> float:
        """The mean time of one request of this mix when sent alone: one worker answering them
        one after another manages about its inverse per second (a little more where answers
        overlap with the client's and the network's share)."""
        counted = [(kind.count, statistics.mean(self.alone[name]))
                   for name, kind in self.kinds.items() if self.alone.get(name)]
        total = sum(count for count, _ in counted)
        return sum(count * cost for count, cost in counted) / total if total else 0.0

    @property
    def peak_worker_rss_mb(self) -> float:
        return max((p.rss_peak for p in self.processes if p.role == "worker"), default=0.0)

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def drive(port: int, requests: Iterator[Request], rate: float, seconds: float
                ) -> tuple[dict[str, Kind], float, int, int]:
    """Sends the requests at `rate` over CONNECTIONS keep-alive connections. Requests wait
    for a free connection in a plain queue (httpx's shared pool, with thousands waiting in it
    once the server falls behind, cost the client more CPU than the server got)."""
    kinds: dict[str, Kind] = {}
    queue: asyncio.Queue[tuple[Request, float] | None] = asyncio.Queue()
    late = 0

    def failed(kind: Kind, reason: str) -> None:
        kind.errors[reason] = kind.errors.get(reason, 0) + 1

    async def connection(client: httpx.AsyncClient) -> None:
        while (item := await queue.get()) is not None:
            request, due = item
            kind = kinds.setdefault(request.kind, Kind(request.kind))
            left = due + TIMEOUT_S - time.perf_counter()
            if left <= 0:  # a user would have given up before it was even sent
                failed(kind, "timeout")
                continue
            try:
                answer = await asyncio.wait_for(client.request(
                    request.method, request.path, params=request.params,
                    headers=request.headers, json=request.body), timeout=left)
            except (TimeoutError, httpx.TimeoutException):
                failed(kind, "timeout")
                continue
            except httpx.TransportError as exc:
                failed(kind, type(exc).__name__)
                continue
            if 200 <= answer.status_code < 300:
                kind.latencies.append(time.perf_counter() - due)
            else:
                failed(kind, f"HTTP {answer.status_code}")

    async with contextlib.AsyncExitStack() as stack:
        # The clients exist before the clock starts: making 64 (an SSL context each) took the
        # client 1.2 s of CPU, and the first second's requests counted it as server latency.
        clients = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_S, follow_redirects=False,
            cookies=_no_cookie_jar())) for _ in range(CONNECTIONS)]
        workers = [asyncio.ensure_future(connection(client)) for client in clients]
        started = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            due = started + n / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.050:
                late += 1
            queue.put_nowait((next(requests), due))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
    return kinds, elapsed, total, late


# ---------------------------------------------------------------------------- memory

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    """One server process over the run: resident memory (VmRSS, MB) and CPU seconds used."""

    pid: int
    role: str  # "worker", "supervisor" (uvicorn's parent of several workers) or "helper"
    rss_start: float
    rss_peak: float
    rss_middle: float = 0.0  # at half time, to tell steady growth from a start-up step
    rss_end: float = 0.0
    cpu_start: float = 0.0
    cpu_end: float = 0.0

    @property
    def cpu(self) -> float:
        return self.cpu_end - self.cpu_start


def _tree(pid: int) -> list[int]:
    """A process and its descendants (uvicorn's workers are its children)."""
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += _tree(int(child))
    except OSError:
        pass
    return found


def _sample(pid: int) -> tuple[float, float] | None:
    """VmRSS in MB and CPU seconds (user + system) of one process; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rss = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmRSS:"))
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return rss / 1024, (int(fields[11]) + int(fields[12])) / TICKS


def _role(pid: int, root: int, several: bool) -> str:
    """uvicorn with several workers: a supervisor, its spawned workers and multiprocessing's
    resource tracker (a helper); with one worker, the server process itself."""
    if pid == root:
        return "supervisor" if several else "worker"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "helper"
    return "worker" if b"spawn_main" in command else "helper"


class RssPoller:
    """Polls the server's processes once a second in a thread: each one's resident memory
    (start, peak, half time, end) and CPU time, so a worker's memory is its own, not the sum."""

    def __init__(self, root: int, seconds: float) -> None:
        self.root, self.seconds = root, seconds
        self.processes: dict[int, ServerProcess] = {}
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._sample()

    def _sample(self) -> None:
        middle = time.monotonic() - self._started < self.seconds / 2
        tree = _tree(self.root)
        for pid in tree:
            found = _sample(pid)
            if found is None:
                continue
            rss, cpu = found
            role = _role(pid, self.root, len(tree) > 1)
            process = self.processes.setdefault(pid, ServerProcess(pid, role, rss, rss,
                                                             cpu_start=cpu))
            process.rss_peak = max(process.rss_peak, rss)
            process.rss_end, process.cpu_end = rss, cpu
            if middle:
                process.rss_middle = rss

    def _poll(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# ---------------------------------------------------------------------------- server


def warm_up(port: int, patients: list[Patient], clinicians: list[Clinician]
            ) -> dict[str, list[float]]:
    """One request of every kind per user, one at a time, so the run starts with warm caches
    (and a broken route fails here, loudly, before ten minutes are spent on it). Their times
    are each kind's cost alone, the reference for the times under load."""
    rng = random.Random(SEED + 1)
    alone: dict[str, list[float]] = {}

    async def main() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                     cookies=_no_cookie_jar()) as client:
            requests = [make(p) for p in patients for _, make in PATIENT_KINDS]
            requests += [make_c(c, rng) for c in clinicians for _, make_c in CLINICIAN_KINDS]
            requests += [Request(TRIVIAL, "GET", "/api/v1/health")] * 20
            for request in requests:
                began = time.perf_counter()
                answer = await client.request(
                    request.method, request.path, params=request.params,
                    headers=request.headers, json=request.body)
                alone.setdefault(request.kind, []).append(time.perf_counter() - began)
                if not 200 <= answer.status_code < 300:
                    raise RuntimeError(f"warm-up: {request.kind} {request.path} answered "
                                       f"{answer.status_code}: {answer.text[:300]}")

    asyncio.run(main())
    return alone


def measure(rate: float, seconds: float, workers: int) -> Run:
    accounts = json.loads(ACCOUNTS.read_text())["accounts"]
    with tempfile.TemporaryDirectory(prefix="lowdose-load-") as tmp:
        directory = Path(tmp)
        copy = directory / "clinic.sqlite3"
        print(f"copying {CLINIC.name} ({CLINIC.stat().st_size / 1e6:,.0f} MB) …", flush=True)
        shutil.copyfile(CLINIC, copy)
        (directory / "data").mkdir()
        with serving(directory / "data", workers, f"sqlite:///{copy}") as (port, pid):
            print("signing in …", flush=True)
            patients, clinicians = sign_in(port, accounts)
            print(f"{len(patients)} patients, {len(clinicians)} clinicians; warming up …",
                  flush=True)
            alone = warm_up(port, patients, clinicians)
            requests = traffic(patients, clinicians, random.Random(SEED))
            print(f"{rate:g} requests/s for {seconds:g} s …", flush=True)
            with RssPoller(pid, seconds) as rss:
                kinds, elapsed, sent, late = asyncio.run(drive(port, requests, rate, seconds))
            return Run(rate, seconds, workers, kinds, elapsed, sent,
                       sorted(rss.processes.values(), key=lambda p: (p.role, p.pid)), late,
                       alone)


# ----------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(run: Run) -> tuple[bool, list[str]]:
    overall = run.overall
    misses = []
    if overall.error_count:
        misses.append(f"{overall.error_count} errors")
    if overall.percentile(0.95) > BUDGET_P95_S:
        misses.append(f"p95 {_ms(overall.percentile(0.95))} > 200 ms")
    if overall.percentile(0.99) > BUDGET_P99_S:
        misses.append(f"p99 {_ms(overall.percentile(0.99))} > 500 ms")
    if run.peak_worker_rss_mb > BUDGET_RSS_MB:
        misses.append(f"peak RSS {run.peak_worker_rss_mb:.0f} MB > 300 MB per worker")
    return not misses, misses


def section(run: Run) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    within, misses = verdict(run)
    overall = run.overall
    workers = "one uvicorn worker" if run.workers == 1 else f"{run.workers} uvicorn workers"
    answered = len(overall.latencies)
    cpu_ms = sum(p.cpu for p in run.processes) * 1000 / max(1, answered)
    lines = [SECTION, "",
             f"Open-loop load at {run.rate:g} requests/s for {run.seconds / 60:g} min against "
             f"`lowdose serve --workers {run.workers}` ({workers}, as a clinic deploys it) on "
             "a copy of the 10,000 patients × 365 days SQLite clinic; budget (issue 7): "
             "0 errors, p95 ≤ 200 ms, p99 ≤ 500 ms, ≤ 300 MB per worker. Latency runs from "
             "when a request was due (so client lag counts too); an error is a non-2xx answer, "
             f"a timeout (> {TIMEOUT_S:g} s) or a broken connection. Web pages are fetched "
             "with a cookie session. The load client runs on the same machine.", "",
             f"Machine: {os.cpu_count()} cores shared with other work, "
             f"{platform.python_implementation()} {platform.python_version()}, load average "
             f"{load} at the end, {date.today().isoformat()}.", "",
             f"**{'Within budget' if within else 'OVER BUDGET: ' + '; '.join(misses)}.** "
             f"{run.sent:,} requests sent ({run.achieved_rate:.1f}/s achieved; the last "
             f"answered {run.elapsed - run.seconds:.1f} s after the last was due; "
             f"{run.late_starts} started > 50 ms late by the client). The server used "
             f"{cpu_ms:.1f} ms of CPU per answered request (its processes' CPU time over the "
             "run). One request of this mix costs "
             f"{_ms(run.cost_alone)} on average when sent alone (the warm-up, one at a time, "
             "client and network included).", "",
             "Memory and CPU of each server process (VmRSS polled each second):", "",
             "| process | RSS at start | at half time | peak | at end | CPU during the run |",
             "|---|---|---|---|---|---|"]
    for p in run.processes:
        lines.append(f"| {p.role} {p.pid} | {p.rss_start:.0f} MB | {p.rss_middle:.0f} MB | "
                     f"{p.rss_peak:.0f} MB | {p.rss_end:.0f} MB | {p.cpu:.1f} s |")
    lines += ["", "| requests | alone (median) | count | share | p50 | p95 | p99 | max | "
                  "errors |",
              "|---|---|---|---|---|---|---|---|---|",
              f"| {TRIVIAL} | {_ms(statistics.median(run.alone[TRIVIAL]))} | — | — | — | — "
              "| — | — | — |"]
    for kind in [*sorted(run.kinds.values(), key=lambda k: k.name), overall]:
        errors = ", ".join(f"{n} × {reason}" for reason, n in sorted(kind.errors.items()))
        name = f"**{kind.name}**" if kind is overall else kind.name
        alone = run.alone.get(kind.name)
        alone_text = _ms(statistics.median(alone)) if alone else "—"
        share = kind.count / max(1, run.sent)
        lines.append(f"| {name} | {alone_text} | {kind.count:,} | {share:.0%} | "
                     f"{_ms(kind.p50)} | {_ms(kind.percentile(0.95))} | "
                     f"{_ms(kind.percentile(0.99))} | "
                     f"{_ms(max(kind.latencies, default=0.0))} | {errors or 0} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--workers", type=int, default=2,
                        help="uvicorn worker processes (default 2: one per core here)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    run = measure(args.rate, args.minutes * 60, args.workers)
    text = section(run)
    if args.write:
        write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
