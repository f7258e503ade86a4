"""The signed-in user's own account over real HTTP, on SQLite and PostgreSQL: signing out a
token, changing the password, turning the authenticator-app second factor on and off, and
signing out everywhere. These routes take no ids: each acts only on the caller's account."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from test_records import RecordServer, server  # noqa: F401

from persistence.conftest import PASSWORD, backend, isolated_database, templates  # noqa: F401

NEW_PASSWORD = "a much longer passphrase 2026"


def code(secret: str, steps_ahead: int = 0) -> str:
    # Each code works once (replay protection): later steps for later uses.
    return pyotp.TOTP(secret).at(datetime.now(UTC), counter_offset=steps_ahead)


def test_signing_out_ends_only_this_token(server: RecordServer) -> None:  # noqa: F811
    first = server.login("carol").json()["access_token"]
    second = server.login("carol").json()["access_token"]
    out = server.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"})
    assert out.status_code == 204
    assert server.client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {first}"}).status_code == 401
    assert server.client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {second}"}).status_code == 200


def test_changing_the_password_needs_the_current_one_and_ends_every_token(
        server: RecordServer) -> None:  # noqa: F811
    headers = server.as_("clinician")
    wrong = server.client.post("/api/v1/me/password", headers=headers, json={
        "current_password": "not it", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current_password" in wrong.text
    weak = server.client.post("/api/v1/me/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and "new_password" in weak.text
    assert server.client.get("/api/v1/me", headers=headers).status_code == 200  # unchanged

    done = server.client.post("/api/v1/me/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 204
    assert server.client.get("/api/v1/me", headers=headers).status_code == 401
    assert server.login("carol").status_code == 401
    assert server.login("carol", NEW_PASSWORD).status_code == 200


def test_a_second_factor_is_started_confirmed_required_and_turned_off(
        server: RecordServer) -> None:  # noqa: F811
    headers = server.as_("clinician")
    started = server.client.post("/api/v1/me/totp", headers=headers)
    assert started.status_code == 201
    secret, uri = started.json()["secret"], started.json()["uri"]
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    # Not on until a code confirms it: signing in still needs only the password.
    assert server.login("carol").status_code == 200
    bad = server.client.post("/api/v1/me/totp/confirm", headers=headers, json={"code": "000000"})
    assert bad.status_code == 422 and "code" in bad.text

    assert server.client.post("/api/v1/me/totp/confirm", headers=headers,
                              json={"code": code(secret, -1)}).status_code == 204
    assert server.client.get("/api/v1/me", headers=headers).json()["totp_enabled"] is True
    assert server.client.post("/api/v1/me/totp", headers=headers).status_code == 409
    without = server.login("carol")
    assert without.status_code == 401
    with_code = server.client.post("/api/v1/auth/token", data={
        "username": "carol", "password": PASSWORD, "totp_code": code(secret)})
    assert with_code.status_code == 200

    refused = server.client.post("/api/v1/me/totp/disable", headers=headers,
                                 json={"code": "123456"})
    assert refused.status_code == 422
    assert server.client.post("/api/v1/me/totp/disable", headers=headers,
                              json={"code": code(secret, 1)}).status_code == 204
    assert server.login("carol").status_code == 200


def test_signing_out_everywhere_ends_every_token_of_the_account_only(
        server: RecordServer) -> None:  # noqa: F811
    mine = [server.login("carol").json()["access_token"] for _ in range(2)]
    theirs = server.as_("patient")
    answer = server.client.post("/api/v1/me/tokens/revoke",
                                headers={"Authorization": f"Bearer {mine[0]}"})
    assert answer.status_code == 200 and answer.json()["revoked"] >= 2
    for token in mine:
        assert server.client.get("/api/v1/me", headers={
            "Authorization": f"Bearer {token}"}).status_code == 401
    assert server.client.get("/api/v1/me", headers=theirs).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/auth/logout", "/api/v1/me/password",
                                  "/api/v1/me/tokens/revoke", "/api/v1/me/totp",
                                  "/api/v1/me/totp/confirm", "/api/v1/me/totp/disable"])
def test_account_routes_need_a_signed_in_caller(server: RecordServer,  # noqa: F811
                                                path: str) -> None:
    assert server.client.post(path, json={}).status_code == 401
