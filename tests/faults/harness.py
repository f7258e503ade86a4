"""What the fault tests share: a real `lowdose serve` process that can be SIGKILLed and started
again on the same database, a demo clinic to sign in to, and patients writing check-ins that
retry with their idempotency key until the server acknowledges them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

LOWDOSE = Path(sys.executable).with_name("lowdose")
LONG = os.environ.get("LOWDOSE_LONG_TESTS") == "1"
# Far before the demo's diaries (which end today), so every write is a new date.
FIRST_DAY = date(2000, 1, 1)
# What a client sees while the server is down or dies under it.
GONE = (httpx.TransportError,)


def lowdose_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWDOSE_")}
    env.update(LOWDOSE_DATA_DIR=str(data_dir), **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    patient_id: int


def demo_clinic(database_url: str, data_dir: Path, patients: int) -> list[Account]:
    """A small synthetic clinic made by `lowdose demo`; its patients' accounts."""
    done = subprocess.run(
        [str(LOWDOSE), "demo", "--no-serve", "--json", "--patients", str(patients),
         "--database-url", database_url],
        capture_output=True, text=True, env=lowdose_env(data_dir), timeout=300, check=True)
    return [Account(a["username"], a["password"], a["patient_id"])
            for a in json.loads(done.stdout)["accounts"] if a["role"] == "patient"]


class Server:
    """`lowdose serve` as a child process: started, SIGKILLed and started again."""

    def __init__(self, database_url: str, data_dir: Path, log: Path) -> None:
        self.database_url = database_url
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self, timeout: float = 300) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(LOWDOSE), "serve", "--port", str(self.port),
                 "--database-url", self.database_url],
                env=lowdose_env(self.data_dir), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lowdose serve exited: see {self.log}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except GONE:
                pass
            time.sleep(0.05)
        raise RuntimeError("lowdose serve did not answer in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, whatever was in flight is cut off."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def checkin_for(day: date, n: int) -> dict[str, Any]:
    """A check-in whose values differ from write to write, so a mix-up would show."""
    return {"date": day.isoformat(), "dose_taken": True, "dose_mg": 0.5 + (n % 9) * 0.5,
            "dose_time": "22:05", "ratings": {"pain": n % 11, "fatigue": (n * 7) % 11},
            "side_effects": [{"name": "vivid dreams", "severity": n % 4}], "note": f"write {n}"}


@dataclass
class Writer:
    """One patient writing check-ins for consecutive days, each retried with its key until a
    2xx answer; what was acknowledged and how (201 stored, 200 replayed) is kept."""

    server: Server
    account: Account
    writes: int
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    on_ack: Callable[[], None] = lambda: None

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            token = self._sign_in(client)
            url = f"/api/v1/patients/{self.account.patient_id}/checkins"
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(self.writes):
                body = checkin_for(FIRST_DAY + timedelta(days=n), n)
                key = f"{self.account.username}-{n}"
                status = self._until_acknowledged(client, url, body,
                                                  {**headers, "Idempotency-Key": key})
                if status is None:
                    return
                self.acknowledged[key] = body
                self.on_ack()

    def _sign_in(self, client: httpx.Client) -> str:
        while True:
            try:
                answer = client.post(f"{self.server.url}/api/v1/auth/token", data={
                    "username": self.account.username, "password": self.account.password})
            except GONE:
                time.sleep(0.05)
                continue
            answer.raise_for_status()
            token: str = answer.json()["access_token"]
            return token

    def _until_acknowledged(self, client: httpx.Client, url: str, body: dict[str, Any],
                            headers: dict[str, str]) -> int | None:
        for _attempt in range(2000):
            try:
                answer = client.post(self.server.url + url, json=body, headers=headers)
            except GONE:
                time.sleep(0.05)
                continue
            self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
            if answer.status_code in (200, 201):
                stored = answer.json()
                if {k: stored[k] for k in body} != body:
                    self.failures.append(f"{headers['Idempotency-Key']}: answered {stored}")
                return answer.status_code
            if answer.status_code == 503 or answer.status_code >= 500:
                time.sleep(0.05)
                continue
            self.failures.append(f"{headers['Idempotency-Key']}: {answer.status_code} "
                                 f"{answer.text[:300]}")
            return None
        self.failures.append(f"{headers['Idempotency-Key']}: never acknowledged")
        return None


class Progress:
    """A count of acknowledged writes that a killer thread can wait on."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def tick(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_for(self, count: int, until: Callable[[], bool]) -> bool:
        """Wait until `count` writes are acknowledged; False if `until()` says stop first."""
        with self._changed:
            while self._count < count:
                if until():
                    return False
                self._changed.wait(timeout=0.2)
            return True

    @property
    def count(self) -> int:
        return self._count
