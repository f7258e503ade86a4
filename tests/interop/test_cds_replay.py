"""The JWT replay table under concurrency, on SQLite and PostgreSQL: calls arriving together
share one write transaction, yet a token id used twice at the same moment is accepted once,
also when two workers (each with its own connections) receive it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from interop.cds_support import EHR, Keys, write_clients
from lowdose.interop.cds_auth import CdsAuthError, CdsClients
from lowdose.services import cdshooks
from lowdose.store import Database
from lowdose.store.models import AuditEvent, CdsJwtId
from persistence.conftest import backend, db, db_url, isolated_database, templates  # noqa: F401

AUD = "https://ldn.example.org/cds-services/ldn-safety"


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[Keys, CdsClients]]:
    keys = Keys()
    write_clients(tmp_path, keys)
    yield keys, cdshooks.load_clients(tmp_path / cdshooks.CLIENTS_FILE)


def _call_all(dbs: list[Database], tokens: list[str],
              clients: CdsClients) -> list[str]:
    """Every token sent at once, each to the next of `dbs` in turn (a worker each)."""

    async def call(db: Database, token: str) -> str:  # noqa: F811
        try:
            await cdshooks.authenticate(db, token, audience=AUD, clients=clients,
                                        now=datetime.now(UTC), service="ldn-safety",
                                        source="t")
        except CdsAuthError as exc:
            return str(exc)
        return "accepted"

    async def all_at_once() -> list[str]:
        return await asyncio.gather(*(call(dbs[i % len(dbs)], token)
                                      for i, token in enumerate(tokens)))

    return asyncio.run(all_at_once())


def test_one_token_sent_twenty_times_at_once_is_accepted_once(
        db: Database, clients: tuple[Keys, CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    token = keys.token(AUD, jti=str(uuid.uuid4()))
    outcomes = _call_all([db], [token] * 20, allowed)
    assert outcomes.count("accepted") == 1
    assert all("replayed" in o for o in outcomes if o != "accepted")


def test_twenty_different_tokens_at_once_are_all_accepted_and_audited(
        db: Database, clients: tuple[Keys, CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    outcomes = _call_all([db], [keys.token(AUD) for _ in range(20)], allowed)
    assert outcomes == ["accepted"] * 20
    with db.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(CdsJwtId)
                                .where(CdsJwtId.issuer == EHR))
        targets = session.scalars(select(AuditEvent.target)
                                  .where(AuditEvent.action == "cds.call")).all()
    assert stored == 20
    # Written together: fewer audit events than calls, and they add up to every call.
    assert len(targets) < 20
    assert sum(int(t.rsplit("×", 1)[1]) for t in targets) == 20


def test_a_token_sent_to_two_workers_at_once_is_accepted_once(
        db_url: str, clients: tuple[Keys, CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    workers = [Database(db_url), Database(db_url)]
    try:
        token = keys.token(AUD, jti=str(uuid.uuid4()))
        outcomes = _call_all(workers, [token] * 10, allowed)
    finally:
        for worker in workers:
            worker.dispose()
    assert outcomes.count("accepted") == 1
    assert all("replayed" in o for o in outcomes if o != "accepted")


def test_a_replayed_token_is_refused_after_a_restart(
        db_url: str, clients: tuple[Keys, CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    token = keys.token(AUD)
    for expected in (["accepted"], ["this token was already used (jti replayed)"]):
        restarted = Database(db_url)
        try:
            assert _call_all([restarted], [token], allowed) == expected
        finally:
            restarted.dispose()


def test_a_caller_that_goes_away_leaves_the_others_answered(
        db: Database, clients: tuple[Keys, CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients

    async def call(token: str) -> str:
        await cdshooks.authenticate(db, token, audience=AUD, clients=allowed,
                                    now=datetime.now(UTC), service="ldn-safety", source="t")
        return "accepted"

    async def one_leaves() -> list[str]:
        calls = [asyncio.create_task(call(keys.token(AUD))) for _ in range(5)]
        await asyncio.sleep(0)  # all five are waiting for the write
        calls[0].cancel()
        return list(await asyncio.wait_for(asyncio.gather(*calls[1:]), timeout=30))

    assert asyncio.run(one_leaves()) == ["accepted"] * 4
