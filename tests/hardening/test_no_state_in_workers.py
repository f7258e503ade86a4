"""Several workers share nothing but the database: two `lowdose serve` processes over one
database (SQLite file or PostgreSQL) honour each other's tokens, lockouts and idempotency keys,
and `lowdose serve --workers 2` runs two processes that both answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import cycle

import httpx
import pytest

from persistence.conftest import PASSWORD, CastIds

from .conftest import ServeProcess, login


def test_two_workers_share_sign_ins_lockouts_and_idempotency_keys(
        fresh_database: Callable[[str], tuple[str, object]],
        start_serve: Callable[..., ServeProcess]) -> None:
    url, ids = fresh_database("cast")
    assert isinstance(ids, CastIds)
    first, second = start_serve(url), start_serve(url)
    with httpx.Client(base_url=first.url, timeout=30) as a, \
            httpx.Client(base_url=second.url, timeout=30) as b:
        # A token issued by one worker is honoured by the other, and revoked for both.
        carol = login(a, "carol")
        assert b.get("/api/v1/me", headers=carol).json()["user"] == "carol"

        # Failed sign-ins alternate between workers and still add up to one lockout.
        answers = [client.post("/api/v1/auth/token", data={"username": "oscar",
                                                            "password": "wrong guess!"})
                   for client, _ in zip(cycle((a, b)), range(6), strict=False)]
        assert any("retry-after" in r.headers for r in answers), "no lockout across workers"
        for client in (a, b):
            locked = client.post("/api/v1/auth/token",
                                 data={"username": "oscar", "password": PASSWORD})
            assert locked.status_code == 401

        # A check-in retried on the other worker with the same key is the same check-in.
        path = f"/api/v1/patients/{ids.alice}/checkins"
        headers = {**carol, "Idempotency-Key": "phone-retry-1"}
        body = {"date": "2025-06-02", "ratings": {"pain": 4}}
        stored = a.post(path, json=body, headers=headers)
        retried = b.post(path, json=body, headers=headers)
        assert (stored.status_code, retried.status_code) == (201, 200)
        assert stored.json() == retried.json()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_serve_with_two_workers_starts_two_processes_that_answer(
        fresh_database: Callable[[str], tuple[str, object]],
        start_serve: Callable[..., ServeProcess]) -> None:
    url, _ = fresh_database("cast")
    served = start_serve(url, "--workers", "2", env={"LOWDOSE_LOG_FORMAT": "json"})
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for _ in range(20):
            assert client.get("/api/v1/ready").status_code == 200
        headers = login(client, "carol")
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    served.stop()
    lines = served.log_lines()  # the supervisor's and both workers' lines, all JSON
    workers = {m.group(1) for line in lines
               if (m := re.match(r"Started server process \[(\d+)\]", line["message"]))}
    assert len(workers) == 2
    assert any(line["logger"] == "lowdose.access" and line["route"] == "/api/v1/ready"
               for line in lines)
