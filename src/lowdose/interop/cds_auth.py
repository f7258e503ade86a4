"""Who may call the CDS Hooks service: EHR clients that sign a JWT with an asymmetric key
(CDS Hooks 2.0 "Trusting CDS Clients"; interop-notes §2.6).

A token is accepted only when all of these hold:
- the algorithm is ES384 or RS384, the two the spec names (`none` and HMAC are refused, since
  a shared secret would let the service forge its clients' tokens), and the header names a
  `kid`;
- `iss` is on the allow-list, the key with that `kid` is one of the issuer's (given inline, or
  fetched from the issuer's configured JWKS URL; a `jku` header must be that URL);
- the signature verifies; `aud` is exactly the URL being called; `exp`, `iat` and `jti` are
  present, `iat` is not in the future, `exp` is not past and at most five minutes after `iat`
  (the spec's short-lived tokens), all with a small clock-skew allowance;
- `jti` was not seen before from this issuer (the caller checks, against its replay table).

The allow-list is a JSON file the operator writes (`CdsClients.from_dict` reads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

# The algorithms CDS Hooks 2.0 names for client JWTs (interop-notes §2.6): anything else,
# `none` and HMAC above all, is refused.
ASYMMETRIC = frozenset({"ES384", "RS384"})
SKEW = timedelta(seconds=60)
MAX_LIFETIME = timedelta(minutes=5)


class CdsAuthError(Exception):
    """Why a token was refused; the message is safe to send back (HTTP 401)."""


@dataclass(frozen=True)
class CdsClient:
    issuer: str
    keys: Mapping[str, jwt.PyJWK] = field(default_factory=dict)  # by kid
    jwks_url: str | None = None


@dataclass(frozen=True)
class CdsClients:
    """The allow-list, and the public base URL the service is reached at (for `aud`); without
    one the URL of the request is used, which trusts the Host header."""

    clients: Mapping[str, CdsClient]
    base_url: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> CdsClients:
        if not isinstance(data, Mapping):
            raise ValueError("must be a JSON object with `clients`")
        unknown = set(data) - {"clients", "service_base_url"}
        if unknown:
            raise ValueError(f"unknown field {sorted(unknown)[0]!r}")
        found: dict[str, CdsClient] = {}
        rows = data.get("clients", [])
        if not isinstance(rows, list):
            raise ValueError("clients: must be a list")
        for i, row in enumerate(rows):
            client = _client(row, f"clients[{i}]")
            if client.issuer in found:
                raise ValueError(f"clients[{i}].issuer: {client.issuer!r} is listed twice")
            found[client.issuer] = client
        base = data.get("service_base_url")
        if base is not None and (not isinstance(base, str) or not base.startswith("http")):
            raise ValueError("service_base_url: must be an http(s) URL")
        return cls(found, base.rstrip("/") if base else None)


def _client(row: Any, where: str) -> CdsClient:
    if not isinstance(row, Mapping) or set(row) - {"issuer", "jwks", "jwks_url"}:
        raise ValueError(f"{where}: must be {{issuer, jwks and/or jwks_url}}")
    issuer, jwks, url = row.get("issuer"), row.get("jwks"), row.get("jwks_url")
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 500:
        raise ValueError(f"{where}.issuer: is required (at most 500 characters)")
    if jwks is None and url is None:
        raise ValueError(f"{where}: give the issuer's public keys (jwks) or their jwks_url")
    keys: dict[str, jwt.PyJWK] = {}
    if jwks is not None:
        try:
            for key in jwt.PyJWKSet.from_dict(jwks).keys:
                if key.key_id is None:
                    raise ValueError(f"{where}.jwks: every key needs a kid")
                if key.key_type not in ("RSA", "EC"):
                    raise ValueError(f"{where}.jwks: only RSA and EC public keys")
                keys[key.key_id] = key
        except jwt.PyJWKError as exc:
            raise ValueError(f"{where}.jwks: {exc}") from None
    if url is not None and not (isinstance(url, str) and url.startswith("http")):
        raise ValueError(f"{where}.jwks_url: must be an http(s) URL")
    return CdsClient(issuer, keys, url)


@dataclass(frozen=True)
class Caller:
    """A verified token: who signed it, its id and when it stops being valid."""

    issuer: str
    jti: str
    expires_at: datetime  # naive UTC
    tenant: str | None = None


def verify(token: str, *, audience: str, clients: CdsClients, now: datetime,
           fetch_key: Any = None) -> Caller:
    """Check everything about `token` but replay. `fetch_key(client, kid)` gets a key from the
    client's JWKS URL (None: only inline keys)."""
    try:  # read once to find the key; nothing read here is trusted before the signature
        unread = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CdsAuthError("the bearer token is not a JWT") from None
    header, unverified = unread["header"], unread["payload"]
    algorithm = header.get("alg")
    if algorithm not in ASYMMETRIC:
        raise CdsAuthError(f"algorithm {algorithm!r} refused: sign with an asymmetric key "
                           "(ES384 or RS384)")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        # CDS Hooks 2.0 "Trusting CDS Clients": the header's typ is the fixed value JWT.
        raise CdsAuthError(f"typ {typ!r} refused: a CDS client's token has typ JWT")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise CdsAuthError("the JWT header must name the key (kid)")
    issuer = unverified.get("iss")
    client = clients.clients.get(issuer) if isinstance(issuer, str) else None
    if client is None:
        raise CdsAuthError("unknown issuer")
    jku = header.get("jku")
    if jku is not None and jku != client.jwks_url:
        raise CdsAuthError("jku is not the issuer's registered JWKS URL")
    key = client.keys.get(kid)
    if key is None and client.jwks_url and fetch_key is not None:
        key = fetch_key(client, kid)
    if key is None:
        raise CdsAuthError("no key with this kid for the issuer")
    try:
        claims = jwt.decode(
            token, key, algorithms=[algorithm], audience=audience, issuer=client.issuer,
            options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False})
    except jwt.InvalidAudienceError:
        raise CdsAuthError("the audience is not this service's URL") from None
    except jwt.InvalidSignatureError:
        raise CdsAuthError("bad signature") from None
    except jwt.PyJWTError as exc:
        raise CdsAuthError(f"token refused: {exc}") from None
    return _timely(claims, client.issuer, now)


def _timely(claims: Mapping[str, Any], issuer: str, now: datetime) -> Caller:
    clock = now.astimezone(UTC).replace(tzinfo=None)
    try:
        issued = datetime.fromtimestamp(float(claims["iat"]), UTC).replace(tzinfo=None)
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        raise CdsAuthError("iat and exp must be numbers of seconds") from None
    if expires <= clock - SKEW:
        raise CdsAuthError("the token has expired")
    if issued > clock + SKEW:
        raise CdsAuthError("the token is issued in the future")
    if expires - issued > MAX_LIFETIME + SKEW:
        raise CdsAuthError("the token lives longer than five minutes")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255:
        raise CdsAuthError("jti must be a string of 1–255 characters")
    tenant = claims.get("tenant")
    return Caller(issuer, jti, expires, tenant if isinstance(tenant, str) else None)
