"""Oversized and deeply nested bodies are refused before they are read or parsed, with
problem details; ordinary bodies, and brackets inside strings, are not affected."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import given
from hypothesis import strategies as st

from lowdose.api.middleware import holds_nul, nests_deeper_than
from lowdose.settings import MIB

PROFILE = {"as_of": "2025-06-02T09:00", "medications": [{"text": "ibuprofen 200 mg"}]}


def test_a_body_declared_larger_than_1_mib_is_413_before_it_is_sent(
        stateless_server: httpx.Client) -> None:
    # Announce 100 MB and send none of it: the answer must come without reading the body.
    address = urlsplit(str(stateless_server.base_url))
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/screen HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
        reply = _read_reply(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 413


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    return reply


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(
        stateless_server: httpx.Client) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB in 64 KiB chunks, no Content-Length (chunked)
            sent += 1
            yield b" " * 65536

    response = stateless_server.post("/api/v1/screen", content=chunks(),
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request body is larger")
    assert str(MIB) in response.json()["detail"]


def test_a_body_just_under_the_limit_is_parsed_as_usual(
        stateless_server: httpx.Client) -> None:
    compact = json.dumps(PROFILE)
    padded = compact[:-1] + " " * (MIB - len(compact)) + "}"
    assert len(padded) == MIB
    response = stateless_server.post("/api/v1/screen", content=padded,
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_deeply_nested_json_is_422_naming_the_body_and_answered_at_once(
        stateless_server: httpx.Client) -> None:
    started = time.perf_counter()
    response = stateless_server.post("/api/v1/screen",
                                     content=b"[" * 500_000 + b"]" * 500_000,
                                     headers={"Content-Type": "application/json"})
    assert time.perf_counter() - started < 2
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "body",
                                          "message": "nests deeper than 32 levels"}]


def test_nesting_is_counted_in_a_body_sent_without_a_content_type(
        stateless_server: httpx.Client) -> None:
    nested: Any = "x"
    for _ in range(40):
        nested = {"a": nested}
    response = stateless_server.post("/api/v1/screen", content=json.dumps(
        {**PROFILE, "conditions": [nested]}))
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "nests deeper than 32 levels"


def test_brackets_inside_strings_are_text_not_nesting(stateless_server: httpx.Client) -> None:
    text = "[{" * 100 + '"\\"[' * 50  # 150 brackets and escaped quotes in 350 characters
    body = {**PROFILE, "medications": [{"text": text}]}
    response = stateless_server.post("/api/v1/screen", json=body)
    assert response.status_code == 200, response.text


def test_a_form_body_is_not_read_as_json(stateless_server: httpx.Client) -> None:
    response = stateless_server.post("/api/v1/auth/token", data={
        "username": "nobody", "password": "[" * 100})
    assert response.status_code == 401  # a failed sign-in, not a nesting error


# ------------------------------------------------------------- the depth scan itself

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(alphabet='[]{}"\\ab', max_size=3), inner, max_size=3),
    max_leaves=40)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=12))
def test_the_scan_agrees_with_the_depth_of_the_parsed_document(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    assert nests_deeper_than(body, limit) == (depth_of(value) > limit)


# ------------------------------------------------------------------------- NUL characters


def test_a_nul_character_anywhere_a_request_carries_text_is_422(
        stateless_server: httpx.Client) -> None:
    body = {**PROFILE, "medications": [{"text": "ibuprofen\u0000 200 mg"}]}
    answers = {
        "body": stateless_server.post("/api/v1/screen", json=body),
        "query": stateless_server.get("/api/v1/health?probe=%00"),
        "form": stateless_server.post("/api/v1/auth/token",
                                      data={"username": "carol\x00", "password": "x"}),
    }
    for place, response in answers.items():
        assert response.status_code == 422, place
        assert response.json()["errors"][0]["message"].startswith("contains a NUL"), place
    assert answers["query"].json()["errors"][0]["field"] == "query"


def test_an_escaped_backslash_before_u0000_is_plain_text(
        stateless_server: httpx.Client) -> None:
    body = {**PROFILE, "medications": [{"text": "C:\\u0000 is not a medicine"}]}
    assert stateless_server.post("/api/v1/screen", json=body).status_code == 200


@given(st.text(alphabet=st.sampled_from(['\\', 'u', '0', '\x00', 'a', '"'])))
def test_the_nul_scan_agrees_with_the_parsed_text(value: str) -> None:
    body = json.dumps({"text": value}).encode()
    assert holds_nul(body, "application/json") == ("\x00" in value)
