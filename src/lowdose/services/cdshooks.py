"""The CDS Hooks use cases: authenticate an EHR client's JWT (allow-list, keys, replay table),
gather what a hook needs (prefetch, else the EHR's FHIR server), screen, answer with cards.

The allow-list is the JSON file `cds-clients.json` in the data dir, written by the operator:

    {"service_base_url": "https://ldn.example.org",
     "clients": [{"issuer": "https://ehr.example.org", "jwks": {"keys": [...]}},
                 {"issuer": "https://other-ehr.example", "jwks_url": "https://.../jwks"}]}

`service_base_url` is the public URL the EHR calls (the JWT's audience is checked against it);
set it whenever the server sits behind a proxy.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import httpx
import jwt
from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lowdose.core.screening import screen
from lowdose.interop import cdshooks
from lowdose.interop.cds_auth import SKEW, Caller, CdsAuthError, CdsClient, CdsClients, verify
from lowdose.knowledge.medicines import load_medicine_vocabulary
from lowdose.knowledge.screening import load_screening_knowledge
from lowdose.knowledge.sources import load_sources
from lowdose.security import audit
from lowdose.store.db import Database, utc_naive
from lowdose.store.models import CdsJwtId

CLIENTS_FILE = "cds-clients.json"
FETCH_TIMEOUT_S = 3.0


class PrefetchUnavailable(Exception):
    """The hook needs data the request did not bring and the service could not fetch (412)."""


# ------------------------------------------------------------------------ allow-list


@dataclass
class _Loaded:
    stamp: tuple[int, int] | None
    clients: CdsClients


_cache: dict[Path, _Loaded] = {}
_cache_lock = threading.Lock()


def load_clients(path: Path) -> CdsClients:
    """The allow-list in `path`, re-read when the file changes; none when there is no file."""
    try:
        info = path.stat()
        stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
    except FileNotFoundError:
        stamp = None
    with _cache_lock:
        loaded = _cache.get(path)
        if loaded is not None and loaded.stamp == stamp:
            return loaded.clients
    clients = CdsClients({}) if stamp is None else _read(path)
    with _cache_lock:
        _cache[path] = _Loaded(stamp, clients)
    return clients


def _read(path: Path) -> CdsClients:
    try:
        return CdsClients.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError) as exc:
        # A broken allow-list refuses everyone rather than guessing; the reason goes to the log.
        raise RuntimeError(f"{path}: {exc}") from None


_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def _fetch_key(client: CdsClient, kid: str) -> jwt.PyJWK | None:
    """A key from the issuer's registered JWKS URL (cached for five minutes)."""
    assert client.jwks_url is not None
    fetcher = _jwks_clients.setdefault(client.jwks_url, jwt.PyJWKClient(
        client.jwks_url, cache_keys=True, lifespan=300, timeout=int(FETCH_TIMEOUT_S)))
    try:
        return fetcher.get_signing_key(kid)
    except jwt.PyJWKClientError:
        return None


async def authenticate(db: Database, token: str | None, *, audience: str, clients: CdsClients,
                       now: datetime, service: str, source: str | None) -> Caller:
    """The verified caller; CdsAuthError when the token is missing, invalid or replayed.
    An accepted call is audited (who called which service, never what it sent)."""
    if not token:
        raise CdsAuthError("send the EHR's signed JWT as `Authorization: Bearer`")
    try:  # in the event loop: a signature check costs less than a trip to a thread
        caller = verify(token, audience=audience, clients=clients, now=now,
                        fetch_key=_key_not_at_hand)
    except _FetchNeeded:
        caller = await asyncio.to_thread(verify, token, audience=audience, clients=clients,
                                         now=now, fetch_key=_fetch_key)
    if not await _guard(db).remember(_Seen(caller, utc_naive(now), service, source)):
        raise CdsAuthError("this token was already used (jti replayed)")
    return caller


class _FetchNeeded(Exception):
    """The issuer's key is not in the allow-list: it comes from its JWKS URL (network)."""


def _key_not_at_hand(client: CdsClient, kid: str) -> jwt.PyJWK | None:
    raise _FetchNeeded


@dataclass(frozen=True, eq=False)  # by identity: the same token sent twice is two calls
class _Seen:
    """One accepted token waiting for its jti to be stored."""

    caller: Caller
    at: datetime
    service: str
    source: str | None


class _ReplayGuard:
    """Stores JWT ids, refusing one seen before. Calls arriving together share one write
    transaction (group commit): with `synchronous=FULL` each commit waits for the disk, and one
    commit per call would cap the service at the disk's commit rate. One writer task stores
    everything pending in a thread; calls arriving meanwhile wait, in the event loop rather
    than in threads of their own, for the next write."""

    PURGE_EVERY_S = 60.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[tuple[_Seen, asyncio.Future[bool]]] = []
        self.writer: asyncio.Task[None] | None = None
        # A thread of its own, so the writes never queue behind slow FHIR fetches.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cds-jti")
        self.purged = 0.0

    async def remember(self, seen: _Seen) -> bool:
        accepted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((seen, accepted))
        if self.writer is None:
            # A task of its own: a caller that goes away must not strand the others.
            self.writer = asyncio.create_task(self._drain())
        return await accepted

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    stored = await asyncio.get_running_loop().run_in_executor(
                        self.thread, self._write, [seen for seen, _ in batch])
                except Exception as exc:  # every waiter learns of it, none is left hanging
                    for _, accepted in batch:
                        if not accepted.done():
                            accepted.set_exception(exc)
                    continue
                for seen, accepted in batch:
                    if not accepted.done():
                        accepted.set_result(seen in stored)
        finally:
            self.writer = None

    def _write(self, batch: list[_Seen]) -> set[_Seen]:
        """Store the batch's new ids with their audit events; the calls whose id was new."""
        at = max(item.at for item in batch)
        first: dict[tuple[str, str], _Seen] = {}
        for item in batch:  # a second use within the same batch is a replay too
            first.setdefault((item.caller.issuer, item.caller.jti), item)
        with self.db.transaction() as session:
            if time.monotonic() - self.purged > self.PURGE_EVERY_S:
                # Ids of expired tokens can go: an expired token is refused before this table.
                session.execute(delete(_JWT_IDS).where(_JWT_IDS.c.expires_at < at - SKEW))
                self.purged = time.monotonic()
            # Ids another worker stored (now or earlier) come back as conflicts, not rows.
            insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
            rows = session.execute(
                insert(_JWT_IDS).on_conflict_do_nothing()
                .returning(_JWT_IDS.c.issuer, _JWT_IDS.c.jti),
                [{"issuer": issuer, "jti": jti, "expires_at": item.caller.expires_at,
                  "seen_at": item.at} for (issuer, jti), item in first.items()])
            fresh = {first[issuer, jti] for issuer, jti in rows}
            _audit(session, at, fresh)
        return fresh


def _audit(session: Session, at: datetime, calls: set[_Seen]) -> None:
    # One audit event per service and client address for the calls written together: the
    # calls read no lowdose record, and an event per call would cost more than the call.
    counts = Counter((item.service, item.source) for item in calls)
    for (service, source), count in counts.items():
        audit.append(session, at=at, actor_user_id=None, action="cds.call",
                     target=f"cds-service:{service}×{count}"[:64], source=source)


_JWT_IDS = cast(Table, CdsJwtId.__table__)
# One guard per event loop and database: its waiters' futures belong to that loop.
_guards: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[
    Database, _ReplayGuard]] = weakref.WeakKeyDictionary()


def _guard(db: Database) -> _ReplayGuard:
    guards = _guards.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    guard = guards.get(db)
    if guard is None:
        guard = guards[db] = _ReplayGuard(db)
    return guard


# ------------------------------------------------------------------------------ hooks


async def answer(body: Any, *, now: datetime) -> dict[str, Any]:
    """`answer_hook` for the event loop: only a call that must fetch from the EHR's FHIR
    server goes to a thread."""
    request = cdshooks.read_request(body)
    ldn_orders = _ldn_orders(request)
    if ldn_orders and _missing(request):
        return await asyncio.to_thread(_answer, request, ldn_orders, now)
    return _answer(request, ldn_orders, now)


def answer_hook(body: Any, *, now: datetime) -> dict[str, Any]:
    """The cards for one hook call (`now`: the server's clock, in its own time zone)."""
    request = cdshooks.read_request(body)
    return _answer(request, _ldn_orders(request), now)


def _ldn_orders(request: cdshooks.HookRequest) -> list[Mapping[str, Any]]:
    vocabulary = load_medicine_vocabulary()
    return [o for o in request.orders
            if cdshooks.is_naltrexone(o, vocabulary, request.medications)]


def _answer(request: cdshooks.HookRequest, ldn_orders: list[Mapping[str, Any]],
            now: datetime) -> dict[str, Any]:
    if not ldn_orders:
        return {"cards": []}
    data = gather(request)
    as_of = now.astimezone().replace(tzinfo=None, microsecond=0)
    found: list[dict[str, Any]] = []
    for order in ldn_orders:
        profile = cdshooks.profile_of(request, data, order, as_of)
        result = screen(profile, load_screening_knowledge())
        found += cdshooks.cards(result, order, load_sources())
    return {"cards": found}


def gather(request: cdshooks.HookRequest) -> dict[str, Any]:
    """Each prefetch key from the request, else fetched from the EHR's FHIR server. A key sent
    as null means the EHR has no such data (CDS Hooks 2.0), which is not an error."""
    data: dict[str, Any] = {}
    missing = _missing(request)
    for key in cdshooks.PREFETCH:
        if key in request.prefetch:
            data[key] = request.prefetch[key]
    if not missing:
        return data
    if request.fhir_server is None:
        raise PrefetchUnavailable(f"prefetch {', '.join(missing)} missing and no fhirServer "
                                  "to fetch it from")
    headers = {"Accept": "application/fhir+json"}
    if request.access_token:
        headers["Authorization"] = f"Bearer {request.access_token}"
    base = request.fhir_server.rstrip("/")
    with httpx.Client(timeout=FETCH_TIMEOUT_S, headers=headers) as client:
        for key in missing:
            query = cdshooks.PREFETCH[key].replace("{{context.patientId}}", request.patient_id)
            data[key] = _fetch(client, f"{base}/{query}", key)
    return data


def _missing(request: cdshooks.HookRequest) -> list[str]:
    return [key for key in cdshooks.PREFETCH if key not in request.prefetch]


def _fetch(client: httpx.Client, url: str, key: str) -> Mapping[str, Any]:
    try:
        response = client.get(url)
    except httpx.HTTPError:
        raise PrefetchUnavailable(f"could not reach the FHIR server for {key}") from None
    if response.status_code != 200:
        raise PrefetchUnavailable(f"the FHIR server answered {response.status_code} for {key}")
    try:
        found = response.json()
    except ValueError:
        raise PrefetchUnavailable(f"the FHIR server sent no JSON for {key}") from None
    if not isinstance(found, Mapping):
        raise PrefetchUnavailable(f"the FHIR server sent no resource for {key}")
    return found
