"""The server starts whatever state the configuration and database are in, and a cancelled call frees its quota."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import anyio
import pytest
from mcp import Client

from server.mcp.server import build_server
from server.wiring.app import App, AppUnavailable
from tests.harness import seed_config, write_config
from tests.server.mcp_support import Session, mcp_session, read_json, text_of

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function: def f(x): return x +"


async def test_without_a_configuration_the_server_starts_and_every_tool_says_to_run_setup(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, config=False) as s:
        status = await s.ok("provider_status")
        routed = await s.call("route_and_complete", prompt="hi")
        switched = await s.call("switch_provider", provider="openai")
        config = await s.read("router://config")
    assert not status["ready"] and "provider-router setup" in status["problems"][0]
    assert routed.is_error and "provider-router setup" in text_of(routed)
    assert switched.is_error and "provider-router setup" in text_of(switched)
    assert "provider-router setup" in config["problem"]


async def test_a_broken_configuration_is_reported_with_its_place_and_fix(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, config='{"providers": {"openai": {"apiKey": "${SIM_KEY}",}}, oops}') as s:
        status = await s.ok("provider_status")
        routed = await s.call("route_and_complete", prompt="hi")
        quota = await s.ok("quota_report")
    [problem] = status["problems"]
    assert "providers.json" in problem and "line 1" in problem and "Fix:" in problem
    assert routed.is_error and problem in text_of(routed)
    assert quota["problems"] == [problem]


async def test_fixing_the_configuration_while_running_is_picked_up_by_the_next_call(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, config="{ not json") as s:
        assert (await s.call("route_and_complete", prompt=CODING, task_type="coding")).is_error
        write_config(tmp_path, seed_config(s.sim))
        with anyio.fail_after(10):
            routed = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
    assert routed["provider"] == "openai"


async def test_an_unopenable_database_still_lets_the_server_start_and_explain(tmp_path: Path) -> None:
    class Broken:
        async def __aenter__(self) -> App:
            raise AppUnavailable("router.db is damaged. Fix: move it aside and run `provider-router doctor`")

        async def __aexit__(self, *exc_info: object) -> None:
            return None

    async with Client(build_server(Broken, preload_tokenizer=False)) as client:
        status = await client.call_tool("provider_status", {})
        routed = await client.call_tool("route_and_complete", {"prompt": "hi"})
        config = await read_json(client, "router://config")
    assert status.structured_content is not None and not status.structured_content["ready"]
    assert "router.db is damaged" in status.structured_content["problems"][0]
    assert routed.is_error and "move it aside" in text_of(routed)
    assert "router.db is damaged" in config["problem"]


async def _pending_reservations(s: Session) -> list[str]:
    rows = await s.app.store.fetchall("SELECT state FROM reservations")
    return [row[0] for row in rows]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_cancelled_call_releases_its_reservation(tmp_path: Path, mode: Literal["auto", "legacy"]) -> None:
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()  # the first progress comes after the reservation, just before the request is sent

    async with mcp_session(tmp_path, mode=mode) as s:
        s.sim.configure("openai", latency_ms=60_000)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await s.client.call_tool(
                        "route_and_complete", {"prompt": CODING, "task_type": "coding"}, progress_callback=on_progress
                    )

                tg.start_soon(call)
                await started.wait()
                assert await _pending_reservations(s) == ["pending"]
                tg.cancel_scope.cancel()
            # over JSON-RPC the server learns of the cancellation by a notification: wait until it has acted on it
            while await _pending_reservations(s) == ["pending"]:
                await anyio.sleep(0.01)
        assert await _pending_reservations(s) == ["released"]
        status = await s.ok("provider_status", provider="openai")
    assert status["providers"][0]["health"] == "healthy"
