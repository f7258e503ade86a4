"""CDS Hooks calls over loopback with 20 concurrent clients (design §4: p95 ≤ 50 ms, and at
least half the throughput of the same server's trivial JSON endpoint measured in the same run).

`lowdose serve` (one uvicorn worker unless `--workers` says more; SQLite in a fresh data dir)
runs in its own process with an allow-list holding one EHR client's ES384 and RS384 public
keys; each worker count gets a fresh server and its own trivial-endpoint reference. Each call is
a full `order-sign` request on a naltrexone order with prefetch (patient, three active
medicines, two conditions) carrying its own freshly signed JWT: the server verifies the
signature, audience and lifetime, records the `jti` against replay (one write transaction with
its audit event), screens and answers with cards. The tokens are signed before the run, so the
load generator (one asyncio process speaking HTTP/1.1 keep-alive on raw sockets) costs little
of the two cores. The server's CPU time per call (its processes' user + system time over the
run, warm-up included) moves less with other work on the machine than latency does.

Writes (or replaces) the "CDS Hooks" section of bench/RESULTS.md.
Run: `.venv/bin/python bench/cdshooks.py [--seconds 8] [--clients 20] [--workers 1 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from results import write_section
from serving import serving, tree_cpu_seconds

HERE = Path(__file__).resolve().parent
SECTION = "## CDS Hooks (bench/cdshooks.py)"
ISSUER = "https://ehr.bench.example"
SERVICE = "/cds-services/ldn-safety"
HEALTH = "`GET /api/v1/health` (reference)"
BUDGET_P95_S, BUDGET_RATIO = 0.050, 0.5
WARMUP_S = 2.0
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass
class Load:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    answered: int = 0  # warm-up included, errors too: what the server's CPU time paid for
    cpu_s: float = 0.0
    workers: int = 1

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] if ordered else 0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


# ------------------------------------------------------------------------------ load


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def _client(port: int, requests: Iterator[bytes], warm_until: float, deadline: float,
                  load: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            sent = time.perf_counter()
            if sent >= deadline:
                break
            writer.write(request)
            try:
                status, _ = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                load.errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            load.answered += 1
            if sent < warm_until:
                continue
            load.statuses[status] = load.statuses.get(status, 0) + 1
            if status == 200:
                load.latencies.append(time.perf_counter() - sent)
            else:
                load.errors += 1

    finally:
        writer.close()


def run_load(name: str, server: Server, streams: list[Iterator[bytes]], seconds: float) -> Load:
    load = Load(name, workers=server.workers)
    port = server.port
    cpu_before = server.cpu_s()

    async def main() -> None:
        started = time.perf_counter()
        warm_until, deadline = started + WARMUP_S, started + WARMUP_S + seconds
        await asyncio.gather(*(_client(port, stream, warm_until, deadline, load)
                               for stream in streams))

    asyncio.run(main())
    load.seconds = seconds
    load.cpu_s = server.cpu_s() - cpu_before
    return load


def health_requests() -> Iterator[bytes]:
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
    while True:
        yield request


def hook_body() -> bytes:
    def med(text: str, rxnorm: str | None, ident: str, status: str = "active") -> dict[str, Any]:
        concept: dict[str, Any] = {"text": text}
        if rxnorm:
            concept["coding"] = [{"system": RXNORM, "code": rxnorm}]
        return {"resourceType": "MedicationRequest", "id": ident, "status": status,
                "intent": "order", "subject": {"reference": "Patient/p1"},
                "medicationCodeableConcept": concept}

    def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in resources]}

    order = med("naltrexone 1.5 mg capsule", "7243", "ldn-1", "draft")
    order["dosageInstruction"] = [{"doseAndRate": [{"doseQuantity": {
        "value": 1.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}]}]
    body = {
        "hook": "order-sign", "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/dr-1", "patientId": "p1",
                    "draftOrders": bundle(order)},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1970-03-01",
                        "gender": "female"},
            "medications": bundle(med("oxycodone 5 mg every 6 hours", "1049621", "m1"),
                                  med("ibuprofen 400 mg", None, "m2"),
                                  med("sertraline 50 mg tablet", None, "m3")),
            "statements": bundle(),
            "conditions": bundle(*[{"resourceType": "Condition", "id": f"c{i}",
                                    "code": {"text": text}}
                                   for i, text in enumerate(("fibromyalgia", "migraine"))]),
        },
    }
    return json.dumps(body).encode()


class Tokens:
    """Tokens signed ahead of the run (each call needs a new jti), more on demand."""

    def __init__(self, key: Any, alg: str, audience: str) -> None:
        self.key, self.alg, self.audience = key, alg, audience
        self.ready: list[str] = []

    def sign(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": ISSUER, "aud": self.audience, "iat": now, "exp": now + 240,
                           "jti": uuid.uuid4().hex}, self.key, algorithm=self.alg,
                          headers={"kid": self.alg, "typ": "JWT"})

    def prepare(self, count: int) -> None:
        self.ready = [self.sign() for _ in range(count)]

    def take(self) -> str:
        return self.ready.pop() if self.ready else self.sign()


def hook_requests(tokens: Tokens, body: bytes, port: int) -> Iterator[bytes]:
    # The Host header makes the URL the JWT's audience must name.
    head = (f"POST {SERVICE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n").encode()
    while True:
        yield head + f"Authorization: Bearer {tokens.take()}\r\n\r\n".encode() + body


# ---------------------------------------------------------------------------- server


@dataclass
class Server:
    port: int
    pid: int
    workers: int

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server and its worker processes so far."""
        return tree_cpu_seconds(self.pid)


KEYS = {"ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "RS384": lambda: rsa.generate_private_key(65537, 2048)}


def allow_list(data_dir: Path, keys: dict[str, Any]) -> None:
    """One EHR client holding an ES384 and an RS384 key (the spec's two recommended ones)."""
    public = [{**json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(
        key.public_key())), "kid": alg, "alg": alg} for alg, key in keys.items()]
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "cds-clients.json").write_text(json.dumps({"clients": [{
        "issuer": ISSUER, "jwks": {"keys": public}}]}))


# ---------------------------------------------------------------------------- report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def in_process(keys: dict[str, Any], body: bytes, data_dir: Path) -> list[tuple[str, float]]:
    """Median milliseconds of the service's own steps, in this process (no HTTP, no disk)."""
    from datetime import UTC, datetime

    from lowdose.interop.cds_auth import verify
    from lowdose.services.cdshooks import CLIENTS_FILE, answer_hook, load_clients

    clients = load_clients(data_dir / CLIENTS_FILE)
    audience = "http://bench.example" + SERVICE
    parsed = json.loads(body)

    def median(call: Any, repeat: int = 300) -> float:
        call()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    steps = []
    for alg, key in keys.items():
        tokens = Tokens(key, alg, audience)
        tokens.prepare(301)
        steps.append((f"verify one {alg} JWT", median(lambda t=tokens: verify(
            t.take(), audience=audience, clients=clients, now=datetime.now(UTC)))))
    steps.append(("read the request, screen, build the cards",
                  median(lambda: answer_hook(parsed, now=datetime.now(UTC)))))
    return steps


def section(runs: list[Load], clients: int, seconds: float, cards: int,
            steps: list[tuple[str, float]]) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    workers = sorted({run.workers for run in runs})
    lines = [
        SECTION, "",
        f"{clients} concurrent keep-alive clients against `lowdose serve --workers N` (N = "
        f"{' and '.join(map(str, workers))}; SQLite; default 1), {seconds:g} s measured per "
        f"row after {WARMUP_S:g} s of warm-up. Each call: an `order-sign` request on a "
        "naltrexone order with prefetch (3 active medicines, 2 conditions; answer: "
        f"{cards} card(s)) and its own JWT (signature, audience, lifetime, jti stored against "
        "replay with an audit event; concurrent calls share one write transaction). Budget "
        "(design §4): p95 ≤ 50 ms and ≥ 0.5× the throughput of the trivial endpoint, "
        "measured on the same server (same worker count) in the same run. Server CPU: the "
        "server processes' user + system time per answered request (warm-up included).", "",
        f"Machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load} at the end (other work shares "
        f"the machine; the load generator runs on it too), {date.today().isoformat()}.", "",
        "| workers | what | p50 | p95 | p99 | per second | ÷ trivial endpoint | server CPU "
        "per call | errors | |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count in workers:
        health = next(run for run in runs if run.workers == count and run.name == HEALTH)
        for run in (run for run in runs if run.workers == count):
            lines.append(_row(run, health))
    lines += ["", "In process, same machine, median of 300 (no HTTP, no disk):", "",
              "| step | median |", "|---|---|"]
    lines += [f"| {name} | {value:.3f} ms |" for name, value in steps]
    lines += ["", "Storing the jti (and the audit event) costs one commit; with "
              "`synchronous=FULL` a commit waits for the disk, so calls arriving together "
              "share one transaction instead of queueing one commit each."]
    return "\n".join(lines) + "\n"


def _row(run: Load, health: Load) -> str:
    ratio = run.rate / health.rate if health.rate else 0.0
    if run is health:
        verdict = "reference"
    else:
        p95_ok = bool(run.latencies) and run.percentile(0.95) <= BUDGET_P95_S
        verdict = (f"p95 {'within' if p95_ok else 'OVER'} budget; throughput "
                   f"{'within' if ratio >= BUDGET_RATIO else 'below'} ≥ {BUDGET_RATIO}×")
    cpu = run.cpu_s / run.answered if run.answered else 0.0
    return (f"| {run.workers} | {run.name} | {_ms(run.p50)} | {_ms(run.percentile(0.95))} | "
            f"{_ms(run.percentile(0.99))} | {run.rate:,.0f} | {ratio:.2f} | {cpu * 1000:.2f} ms "
            f"| {run.errors} | {verdict} |")


def measure(data_dir: Path, keys: dict[str, Any], body: bytes, workers: int,
            args: argparse.Namespace) -> tuple[list[Load], int]:
    """The trivial endpoint, then each algorithm's calls, on one fresh server."""
    with serving(data_dir, workers) as (port, pid):
        server = Server(port, pid, workers)
        audience = f"http://127.0.0.1:{server.port}{SERVICE}"
        check = httpx.post(audience, content=body, timeout=30, headers={
            "Authorization": f"Bearer {Tokens(keys['RS384'], 'RS384', audience).sign()}",
            "Content-Type": "application/json"})
        check.raise_for_status()
        health = run_load(HEALTH, server, [health_requests() for _ in range(args.clients)],
                          args.seconds)
        runs = [health]
        for alg in KEYS if args.alg == "both" else (args.alg,):
            tokens = Tokens(keys[alg], alg, audience)
            tokens.prepare(int(max(health.rate, 500) * (args.seconds + WARMUP_S)))
            runs.append(run_load(f"`POST {SERVICE}`, {alg} JWT", server,
                                 [hook_requests(tokens, body, server.port)
                                  for _ in range(args.clients)], args.seconds))
    return runs, len(check.json()["cards"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="Worker counts to measure, a fresh server each (default: 1).")
    parser.add_argument("--alg", choices=(*KEYS, "both"), default="both")
    parser.add_argument("--no-write", action="store_true", help="Print, do not touch "
                                                                "RESULTS.md.")
    args = parser.parse_args()
    keys = {alg: make() for alg, make in KEYS.items()}
    body = hook_body()
    runs: list[Load] = []
    with tempfile.TemporaryDirectory(prefix="lowdose-bench-cds-") as tmp:
        for workers in args.workers:
            data_dir = Path(tmp) / f"data-{workers}"
            allow_list(data_dir, keys)
            measured, cards = measure(data_dir, keys, body, workers, args)
            runs += measured
        steps = in_process(keys, body, data_dir)
    text = section(runs, args.clients, args.seconds, cards, steps)
    for run in runs:
        if run.errors:
            print(f"{run.workers} worker(s), {run.name}: answers by status {run.statuses}",
                  file=sys.stderr)
    if not args.no_write:
        write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
