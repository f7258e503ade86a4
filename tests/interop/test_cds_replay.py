"""The JWT replay table under concurrency, on SQLite and PostgreSQL: calls arriving together
share one write transaction, yet a token id used twice at the same moment is accepted once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from interop.cds_support import EHR, Keys, write_clients
from lowdose.interop.cds_auth import CdsAuthError
from lowdose.services import cdshooks
from lowdose.store import Database
from lowdose.store.models import AuditEvent, CdsJwtId
from persistence.conftest import backend, db, db_url, isolated_database, templates  # noqa: F401

AUD = "https://ldn.example.org/cds-services/ldn-safety"


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[Keys, cdshooks.CdsClients]]:
    keys = Keys()
    write_clients(tmp_path, keys)
    yield keys, cdshooks.load_clients(tmp_path / cdshooks.CLIENTS_FILE)


def _call_all(db: Database, tokens: list[str],  # noqa: F811
              clients: cdshooks.CdsClients) -> list[str]:
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def call(token: str) -> None:
        start.wait()
        try:
            cdshooks.authenticate(db, token, audience=AUD, clients=clients,
                                  now=datetime.now(UTC), service="ldn-safety", source="t")
            result = "accepted"
        except CdsAuthError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=call, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_one_token_sent_twenty_times_at_once_is_accepted_once(
        db: Database, clients: tuple[Keys, cdshooks.CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    token = keys.token(AUD, jti=str(uuid.uuid4()))
    outcomes = _call_all(db, [token] * 20, allowed)
    assert outcomes.count("accepted") == 1
    assert all("replayed" in o for o in outcomes if o != "accepted")


def test_twenty_different_tokens_at_once_are_all_accepted_and_audited(
        db: Database, clients: tuple[Keys, cdshooks.CdsClients]) -> None:  # noqa: F811
    keys, allowed = clients
    outcomes = _call_all(db, [keys.token(AUD) for _ in range(20)], allowed)
    assert outcomes == ["accepted"] * 20
    with db.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(CdsJwtId)
                                .where(CdsJwtId.issuer == EHR))
        targets = session.scalars(select(AuditEvent.target)
                                  .where(AuditEvent.action == "cds.call")).all()
    assert stored == 20
    # Written together: fewer audit events than calls, and they add up to every call.
    assert sum(int(t.rsplit("×", 1)[1]) for t in targets) == 20
