"""`serve --http`'s ASGI app in this process on a loopback port (uvicorn), over the seed's providers on the
simulator, and SDK clients connected to it with or without a member's token."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from server.config.paths import Paths
from server.mcp.http import MCP_PATH, build_http_app
from server.wiring.app import App
from server.wiring.logging_setup import Redactor
from tests.harness import ENV
from tests.server.mcp_support import app_factory


@asynccontextmanager
async def http_server(
    paths: Paths, clock: Callable[[], datetime], *, host: str = "127.0.0.1"
) -> AsyncIterator[tuple[str, list[App]]]:
    """The MCP HTTP app over `paths` on a free loopback port: yields its URL and the Apps it opened."""
    apps: list[App] = []
    app = build_http_app(
        app_factory(paths, dict(ENV), Redactor(), apps, clock), host=host, config_source="x", refresh_listings=False
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        # the socket listens already: clients queue until uvicorn accepts (its signal handlers stay the runner's)
        group.start_soon(lambda: server._serve(sockets=[sock]))
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}{MCP_PATH}", apps
        finally:
            server.should_exit = True
    sock.close()


@asynccontextmanager
async def http_client(url: str, token: str | None = None) -> AsyncIterator[Client]:
    """An SDK client over streamable HTTP, sending `token` as its bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


def structured(result: Any) -> dict[str, Any]:
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content
