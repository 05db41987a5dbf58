"""`serve --http`'s ASGI app in this process on a loopback port (uvicorn), over the seed's providers on the
simulator, and SDK clients connected to it with or without a member's token; `serve --http` nodes in subprocesses
over one shared store (router.db or PostgreSQL)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from providers.simulator import Simulator
from server.actions.team import add_member
from server.config.paths import Paths
from server.config.types import RouterConfig
from server.mcp.http import MCP_PATH, build_http_app
from server.wiring.app import App, database_of, open_app
from server.wiring.logging_setup import Redactor
from storage import Store
from tests.clock import FixedClock, on_test_clock
from tests.harness import ENV, seed_lineup
from tests.reliability.stdio import server_environ
from tests.server.mcp_support import app_factory

#: the one provider the nodes' config keeps switched on, and its requests a day
PAID = "openai"
DAILY = 20


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


async def node_store(paths: Paths, database: dict[str, str]) -> Store:
    return await Store.open(paths.db_file, database=database_of(paths, RouterConfig(), database))


@dataclass
class Node:
    process: Process
    url: str


def paid_only_config(sim: Simulator) -> dict[str, Any]:
    """Only the paid account serves, with 20 requests a day; every other provider is switched off."""
    config = seed_lineup().config(sim)
    for provider_id, provider in config["providers"].items():
        if provider_id != PAID:
            provider["enabled"] = False
    config["providers"][PAID]["quota"] = {"requestsPerDay": DAILY}
    return config


@asynccontextmanager
async def node(home: Path, database: dict[str, str]) -> AsyncIterator[Node]:
    """`provider-router serve --http --port 0` in a subprocess; its URL from the first line on stdout."""
    process = await anyio.open_process(
        on_test_clock("server.cli", "serve", "--http", "--port", "0"),
        env=server_environ(home, {**ENV, **database, "PROVIDER_ROUTER_LOG_LEVEL": "WARNING"}),
        stderr=None,
    )
    try:
        assert process.stdout is not None
        with anyio.fail_after(60):
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
        assert line.startswith(b"MCP: http://127.0.0.1:")
        yield Node(process, line.decode().split(" ", 1)[1].strip())
    finally:
        if process.returncode is None:
            process.terminate()
            with anyio.move_on_after(10):
                await process.wait()
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def member_tokens(
    paths: Paths, clock: FixedClock, caps: dict[str, float | None], database: dict[str, str]
) -> dict[str, str]:
    async with open_app(paths, {**ENV, **database}, clock=clock) as app:
        return {name: (await add_member(app, name, budget_daily=cap)).token for name, cap in caps.items()}
