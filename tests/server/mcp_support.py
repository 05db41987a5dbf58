"""An MCP client connected in memory to the server over the seed's providers on the simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from mcp import Client
from mcp.client.session import ListRootsFnT, SamplingFnT
from mcp.types import CallToolResult, TextContent, TextResourceContents

from providers.credentials import KeyringCredentials
from providers.simulator import Simulator
from server.config.paths import Paths
from server.mcp.server import build_server
from server.wiring.app import App, open_app
from server.wiring.logging_setup import RedactingCredentials, Redactor
from tests.clock import FixedClock
from tests.harness import ENV, seed_lineup, simulated_home, write_config


@dataclass
class Session:
    client: Client
    sim: Simulator
    paths: Paths
    redactor: Redactor
    apps: list[App] = field(default_factory=list)

    @property
    def app(self) -> App:
        return self.apps[-1]

    async def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(tool, arguments)

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured content of a successful call."""
        result = await self.call(tool, **arguments)
        assert not result.is_error, text_of(result)
        content: dict[str, Any] | None = result.structured_content
        assert content is not None
        return content

    async def read(self, uri: str) -> Any:
        return await read_json(self.client, uri)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def read_json(client: Client, uri: str) -> Any:
    contents = (await client.read_resource(uri)).contents
    assert len(contents) == 1 and isinstance(contents[0], TextResourceContents)
    assert contents[0].mime_type == "application/json"
    return json.loads(contents[0].text)


def app_factory(
    paths: Paths,
    environ: dict[str, str],
    redactor: Redactor,
    apps: list[App],
    clock: Callable[[], datetime],
) -> Callable[[], AbstractAsyncContextManager[App]]:
    @asynccontextmanager
    async def factory() -> AsyncIterator[App]:
        credentials = RedactingCredentials(KeyringCredentials(environ), redactor)
        async with open_app(paths, environ, clock=clock, credentials=credentials) as app:
            apps.append(app)
            yield app

    return factory


@asynccontextmanager
async def served(
    paths: Paths,
    environ: Mapping[str, str],
    clock: Callable[[], datetime],
    *,
    mode: Literal["auto", "legacy"] = "auto",
    sampling_callback: SamplingFnT | None = None,
    list_roots_callback: ListRootsFnT | None = None,
) -> AsyncIterator[tuple[Client, Redactor, list[App]]]:
    """The MCP server over `paths` (each App it opens runs on `clock`, kept in the list) and an in-memory client
    (declaring `sampling` when given a `sampling_callback`)."""
    redactor = Redactor()
    apps: list[App] = []
    server = build_server(app_factory(paths, dict(environ), redactor, apps, clock), preload_tokenizer=False)
    async with Client(
        server, mode=mode, sampling_callback=sampling_callback, list_roots_callback=list_roots_callback
    ) as client:
        yield client, redactor, apps


@asynccontextmanager
async def mcp_session(
    home: Path,
    *,
    config: dict[str, Any] | str | Literal[False] | None = None,
    clock: Callable[[], datetime] | None = None,
    mode: Literal["auto", "legacy"] = "auto",
    google_daily: int = 20,
    models: Mapping[str, str] | None = None,
    sampling_callback: SamplingFnT | None = None,
    list_roots_callback: ListRootsFnT | None = None,
    **preferences: Any,
) -> AsyncIterator[Session]:
    """The server over a fresh home and a client: the seed's config, or `config` (a dict, raw text, False: no file);
    the simulator runs on `clock` when it is a FixedClock."""
    fixed = clock if isinstance(clock, FixedClock) else FixedClock()
    async with simulated_home(home, fixed, lineup=seed_lineup(google_daily, models), **preferences) as (sim, paths):
        if config is False:
            paths.config_file.unlink()
        elif isinstance(config, str):
            home.mkdir(parents=True, exist_ok=True)
            paths.config_file.write_text(config)
        elif config is not None:
            write_config(home, config)
        sampling, roots = sampling_callback, list_roots_callback
        async with served(
            paths, ENV, clock or fixed, mode=mode, sampling_callback=sampling, list_roots_callback=roots
        ) as (client, redactor, apps):
            yield Session(client, sim, paths, redactor, apps)
