"""The real thing: `python -m server.serve` as a subprocess, driven over stdio by the SDK's client."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

import server
from tests.clock import FixedClock, moved_clock_environ
from tests.harness import SIM_KEY, simulated_home
from tests.server.mcp_support import read_json, text_of

pytestmark = pytest.mark.anyio

ROOT = Path(server.__file__).parents[1]


@asynccontextmanager
async def stdio_server(home: Path, errlog: TextIO) -> AsyncIterator[tuple[Client, list[Any]]]:
    """The server in a subprocess with the thin environment agents give it; anything on stdout that is not
    protocol reaches the message handler as an exception."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "server.serve"],
        env={"PROVIDER_ROUTER_HOME": str(home), "SIM_KEY": SIM_KEY, **moved_clock_environ()},
        cwd=ROOT,
    )
    stray: list[Any] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            stray.append(message)

    async with Client(stdio_client(params, errlog=errlog), message_handler=on_message) as client:
        yield client, stray


async def test_a_client_lists_calls_and_reads_over_stdio_and_stdout_carries_only_protocol(tmp_path: Path) -> None:
    messages: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    home = tmp_path / "home"
    stderr_path = tmp_path / "stderr.log"
    async with simulated_home(home, FixedClock()) as (sim, _paths):
        sim.script("openai", ["rate_limited"])
        with stderr_path.open("w") as errlog, anyio.fail_after(30):
            async with stdio_server(home, errlog) as (client, stray):
                tools = {tool.name for tool in (await client.list_tools()).tools}
                result = await client.call_tool(
                    "route_and_complete",
                    {"prompt": "Fix this Python function", "task_type": "coding"},
                    progress_callback=on_progress,
                )
                decisions = await read_json(client, "router://decisions")
                one = await read_json(client, f"router://decisions/{decisions['decisions'][0]['id']}")
                config = await read_json(client, "router://config")
                status = await client.call_tool("provider_status", {"provider": "openai"})
    assert tools == {"route_and_complete", "provider_status", "set_preference", "switch_provider", "quota_report"}
    out = result.structured_content
    assert not result.is_error and out is not None
    assert (out["provider"], out["reason"]) == ("anthropic", "failover")
    assert "— routed to anthropic/claude-sonnet-4-6" in text_of(result)
    assert "routed to openai/gpt-5.2" in messages
    assert [a["error_class"] for a in one["attempts"]] == ["rate_limited", None]
    assert config["providers"]["openai"]["accounts"][0]["credential"] == "env:SIM_KEY"
    assert status.structured_content is not None and status.structured_content["ready"]
    assert stray == []
    logged = stderr_path.read_text()
    assert SIM_KEY not in logged and SIM_KEY not in str(decisions) + str(one) + str(config)


async def test_over_stdio_a_missing_configuration_still_starts_and_names_the_fix(tmp_path: Path) -> None:
    with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(30):
        async with stdio_server(tmp_path / "empty-home", errlog) as (client, stray):
            status = await client.call_tool("provider_status", {})
            routed = await client.call_tool("route_and_complete", {"prompt": "hi"})
    assert status.structured_content is not None and not status.structured_content["ready"]
    assert "provider-router setup" in status.structured_content["problems"][0]
    assert routed.is_error and "provider-router setup" in text_of(routed)
    assert stray == []
    assert "starting without a usable router" in (tmp_path / "stderr.log").read_text()
