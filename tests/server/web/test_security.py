"""The dashboard's guard alone (an ASGI call, no socket): Host header, token, cookie, CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from server.web.security import COOKIE, Guard, Secrets, allowed_hosts, csrf_ok

pytestmark = pytest.mark.anyio
SECRET = Secrets("fixed-test-token")


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"page"})


def _scope(host: str, path: str = "/", query: str = "", cookie: str | None = None) -> Scope:
    headers = [(b"host", host.encode())] + ([(b"cookie", cookie.encode())] if cookie else [])
    return {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "headers": headers, "scheme": "http", "server": ("127.0.0.1", 8000), "root_path": ""}  # fmt: skip


async def _call(guard: Guard, scope: Scope) -> tuple[int, dict[str, str]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


async def test_only_the_bound_address_and_localhost_are_answered() -> None:
    guard = Guard(_inner, SECRET, allowed_hosts("127.0.0.1", 8000))
    cookie = f"{COOKIE}={SECRET.token}"
    assert (await _call(guard, _scope("127.0.0.1:8000", cookie=cookie)))[0] == 200
    assert (await _call(guard, _scope("localhost:8000", cookie=cookie)))[0] == 200
    assert (await _call(guard, _scope("rebound.example:8000", cookie=cookie)))[0] == 421
    assert (await _call(guard, _scope("127.0.0.1:9999", cookie=cookie)))[0] == 421


async def test_a_wildcard_bind_answers_any_address_but_never_a_dns_name() -> None:
    guard = Guard(_inner, SECRET, allowed_hosts("0.0.0.0", 8000), any_address=True)
    cookie = f"{COOKIE}={SECRET.token}"
    assert (await _call(guard, _scope("192.168.1.20:8000", cookie=cookie)))[0] == 200
    assert (await _call(guard, _scope("[fe80::1]:8000", cookie=cookie)))[0] == 200
    assert (await _call(guard, _scope("attacker.example:8000", cookie=cookie)))[0] == 421


async def test_a_wildcard_bind_also_answers_localhost() -> None:
    guard = Guard(_inner, SECRET, allowed_hosts("0.0.0.0", 8000), any_address=True)
    cookie = f"{COOKIE}={SECRET.token}"
    assert (await _call(guard, _scope("localhost:8000", cookie=cookie)))[0] == 200
    assert (await _call(guard, _scope("localhost:9999", cookie=cookie)))[0] == 421


async def test_the_token_becomes_a_strict_cookie_and_leaves_the_address() -> None:
    guard = Guard(_inner, SECRET, allowed_hosts("127.0.0.1", 8000))
    status, headers = await _call(guard, _scope("127.0.0.1:8000", "/costs", f"period=day&token={SECRET.token}"))
    assert status == 303 and headers["location"] == "/costs?period=day"
    assert f"{COOKIE}={SECRET.token}" in headers["set-cookie"] and "samesite=strict" in headers["set-cookie"].lower()
    assert (await _call(guard, _scope("127.0.0.1:8000", "/costs")))[0] == 401
    status, headers = await _call(guard, _scope("127.0.0.1:8000", cookie=f"{COOKIE}=guess"))
    assert status == 401 and "default-src 'none'" in headers["content-security-policy"]


def _request(origin: str | None) -> Request:
    headers: list[Any] = [(b"host", b"127.0.0.1:8000")] + ([(b"origin", origin.encode())] if origin else [])
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""})


def test_an_action_needs_the_csrf_token_and_this_servers_origin() -> None:
    assert csrf_ok(_request("http://127.0.0.1:8000"), SECRET.csrf, SECRET)
    assert csrf_ok(_request(None), SECRET.csrf, SECRET)
    assert not csrf_ok(_request("http://127.0.0.1:8000"), None, SECRET)
    assert not csrf_ok(_request("http://127.0.0.1:8000"), "0" * len(SECRET.csrf), SECRET)
    assert not csrf_ok(_request("http://evil.example"), SECRET.csrf, SECRET)
    assert SECRET.csrf != SECRET.token and len(Secrets.new().token) >= 32
