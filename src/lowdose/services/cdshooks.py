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

import json
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import httpx
import jwt
from sqlalchemy import Table, delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
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


def authenticate(db: Database, token: str | None, *, audience: str, clients: CdsClients,
                 now: datetime, service: str, source: str | None) -> Caller:
    """The verified caller; CdsAuthError when the token is missing, invalid or replayed.
    An accepted call is audited (who called which service, never what it sent)."""
    if not token:
        raise CdsAuthError("send the EHR's signed JWT as `Authorization: Bearer`")
    caller = verify(token, audience=audience, clients=clients, now=now, fetch_key=_fetch_key)
    seen = _Seen(caller, utc_naive(now), service, source)
    if not _guard(db).remember(seen):
        raise CdsAuthError("this token was already used (jti replayed)")
    return caller


@dataclass
class _Seen:
    """One accepted token waiting for its jti to be stored."""

    caller: Caller
    at: datetime
    service: str
    source: str | None
    accepted: bool = False
    error: BaseException | None = None
    lead: bool = False
    woken: threading.Event = field(default_factory=threading.Event)


class _ReplayGuard:
    """Stores JWT ids, refusing one seen before. Calls arriving together share one write
    transaction (group commit): with `synchronous=FULL` each commit waits for the disk, and one
    commit per call would cap the service at the disk's commit rate. The first caller writes
    everything pending; whoever arrives meanwhile waits, then the next in line writes."""

    PURGE_EVERY_S = 60.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.Lock()
        self.pending: list[_Seen] = []
        self.writing = False
        self.purged = 0.0

    def remember(self, seen: _Seen) -> bool:
        with self.lock:
            self.pending.append(seen)
            lead = not self.writing
            self.writing = True
        if not lead:
            seen.woken.wait()
            if not seen.lead:
                return self._result(seen)
        with self.lock:
            batch, self.pending = self.pending, []
        try:
            self._write(batch)
        except BaseException as exc:  # every waiter learns of it, none is left hanging
            for item in batch:
                item.error = exc
        finally:
            with self.lock:
                if self.pending:
                    following = self.pending[0]
                    following.lead = True
                    following.woken.set()
                else:
                    self.writing = False
            for item in batch:
                if item is not seen:
                    item.woken.set()
        return self._result(seen)

    @staticmethod
    def _result(seen: _Seen) -> bool:
        if seen.error is not None:
            raise seen.error
        return seen.accepted

    def _write(self, batch: list[_Seen]) -> None:
        try:
            with self.db.transaction() as session:
                self._store(session, batch)
        except IntegrityError:
            # Another worker stored one of these ids meanwhile: one transaction each tells
            # which.
            for item in batch:
                item.accepted = False
                try:
                    with self.db.transaction() as session:
                        self._store(session, [item])
                except IntegrityError:
                    item.accepted = False

    def _store(self, session: Session, batch: list[_Seen]) -> None:
        at = max(item.at for item in batch)
        if time.monotonic() - self.purged > self.PURGE_EVERY_S:
            # Ids of expired tokens can go: an expired token is refused before this table.
            session.execute(delete(CdsJwtId).where(CdsJwtId.expires_at < at - SKEW))
            self.purged = time.monotonic()
        keys = {(item.caller.issuer, item.caller.jti) for item in batch}
        rows = session.execute(select(CdsJwtId.issuer, CdsJwtId.jti).where(
            tuple_(CdsJwtId.issuer, CdsJwtId.jti).in_(list(keys))))
        stored = {(issuer, jti) for issuer, jti in rows}
        fresh: list[_Seen] = []
        for item in batch:
            key = (item.caller.issuer, item.caller.jti)
            item.accepted = key not in stored
            if item.accepted:
                stored.add(key)  # a second use within the same batch is a replay too
                fresh.append(item)
        if fresh:
            session.execute(insert(_JWT_IDS), [
                {"issuer": i.caller.issuer, "jti": i.caller.jti,
                 "expires_at": i.caller.expires_at, "seen_at": i.at} for i in fresh])
        # One audit event per service and client address for the calls written together: the
        # calls read no lowdose record, and an event per call would cost more than the call.
        calls: dict[tuple[str, str | None], int] = {}
        for item in fresh:
            calls[item.service, item.source] = calls.get((item.service, item.source), 0) + 1
        for (service, source), count in calls.items():
            audit.append(session, at=at, actor_user_id=None, action="cds.call",
                         target=f"cds-service:{service}×{count}"[:64], source=source)


_JWT_IDS = cast(Table, CdsJwtId.__table__)
_guards: weakref.WeakKeyDictionary[Database, _ReplayGuard] = weakref.WeakKeyDictionary()
_guards_lock = threading.Lock()


def _guard(db: Database) -> _ReplayGuard:
    with _guards_lock:
        guard = _guards.get(db)
        if guard is None:
            guard = _guards[db] = _ReplayGuard(db)
        return guard


# ------------------------------------------------------------------------------ hooks


def answer_hook(body: Any, *, now: datetime) -> dict[str, Any]:
    """The cards for one hook call (`now`: the server's clock, in its own time zone)."""
    request = cdshooks.read_request(body)
    vocabulary = load_medicine_vocabulary()
    ldn_orders = [o for o in request.orders if cdshooks.is_naltrexone(o, vocabulary)]
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
    missing = [key for key in cdshooks.PREFETCH if key not in request.prefetch]
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
