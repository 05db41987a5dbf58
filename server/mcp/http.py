"""MCP over streamable HTTP (the SDK's, at `/mcp`) behind a bearer-token gate: each request is its member's.

The gate answers 401 (and nothing else) to a request without a member's valid token. With no member configured, a
server bound to loopback serves its local user without a token (as stdio does); one bound to anything else has
refused to start (server.mcp.serve_http). The token is looked up by its sha256 (storage.team) on every request, so
`team remove` and `team rotate` take effect at once, on every node.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from server.mcp.identity import MEMBER_KEY
from server.mcp.server import AppFactory, build_server
from server.mcp.state import Runtime
from storage.team import Member, any_member_job, by_token_job, token_hash

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_UNAUTHORIZED = (401, b"401 Unauthorized", [(b"www-authenticate", b'Bearer realm="provider-router"')])


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


class TokenGate:
    """ASGI middleware: resolves the bearer token to a member (into the scope's state) or answers 401.

    `require_token`: refuse a request without a valid token even when no member exists (a non-loopback bind).
    """

    def __init__(self, app: ASGIApp, runtime: Runtime, *, require_token: bool) -> None:
        self._app = app
        self._runtime = runtime
        self._require_token = require_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self._app(scope, receive, send)
            return
        state = self._runtime.state
        if state is None or state.app is None:
            problem = state.problem if state is not None else "starting"
            await _respond(send, 503, f"provider-router cannot verify tokens: {problem}".encode(), [])
            return
        token = bearer_token(scope)
        store = state.app.store

        def job(conn: Any) -> tuple[Member | None, bool]:
            return (by_token_job(token_hash(token))(conn) if token else None), any_member_job(conn)

        member, team_exists = await store.read(job)
        if member is None and (token is not None or team_exists or self._require_token):
            await _respond(send, *_UNAUTHORIZED)
            return
        scope.setdefault("state", {})[MEMBER_KEY] = member
        await self._app(scope, receive, send)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    length = str(len(body)).encode()
    all_headers = [(b"content-type", b"text/plain"), (b"content-length", length), *headers]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


def build_http_app(factory: AppFactory, *, host: str, config_source: str, refresh_listings: bool = True) -> ASGIApp:
    """The ASGI app of `serve --http`: the MCP server (the same tools and resources as stdio) at `/mcp`, each client
    with its own session, behind the token gate."""
    runtime = Runtime()
    server = build_server(factory, config_source=config_source, refresh_listings=refresh_listings, runtime=runtime)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return TokenGate(app, runtime, require_token=not is_loopback(host))
