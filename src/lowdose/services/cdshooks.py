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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

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
    at = utc_naive(now)
    try:
        with db.transaction() as session:
            # Ids of expired tokens can go: an expired token is refused before this table.
            session.execute(delete(CdsJwtId).where(CdsJwtId.expires_at < at - SKEW))
            session.execute(insert(CdsJwtId).values(issuer=caller.issuer, jti=caller.jti,
                                                    expires_at=caller.expires_at, seen_at=at))
            audit.append(session, at=at, actor_user_id=None, action="cds.call",
                         target=f"cds-service:{service}"[:64], source=source)
    except IntegrityError:
        raise CdsAuthError("this token was already used (jti replayed)") from None
    return caller


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
