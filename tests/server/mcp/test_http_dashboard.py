"""Two `serve --http` nodes on one router.db, or on one PostgreSQL database, each routing a member's requests: the
dashboard and the CLI pointed at the same store show the decisions of both nodes, each member's apart.

The nodes and the CLI run on the suite's moving clock (tests/on_test_clock.py), the dashboard and the simulator on a
fixed one at its start.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from providers.simulator import Simulator
from tests.clock import FixedClock, on_test_clock
from tests.harness import ENV, seed_lineup, write_config
from tests.reliability.stdio import server_environ
from tests.server.mcp.http_support import http_client, member_tokens, node, paid_only_config
from tests.server.web.support import serving

pytestmark = pytest.mark.anyio

#: each node serves one member, a different number of times
CALLS = {"alpha": 2, "bravo": 3}


async def _route(url: str, token: str, member: str, calls: int) -> None:
    async with http_client(url, token) as client:
        for i in range(calls):
            result = await client.call_tool(
                "route_and_complete",
                {"prompt": f"Write test {i}", "task_type": "coding", "conversation_id": f"{member}-chat"},
            )
            assert not result.is_error


def _decision_links(html: str) -> set[str]:
    """The decision ids the routing page's decision table links to."""
    table = html.split('id="decisions"', 1)[1].split("</table>", 1)[0]
    return set(re.findall(r'href="/routing/(\d+)"', table))


async def _page(base: str, token: str, path: str) -> str:
    async with httpx2.AsyncClient(base_url=base, timeout=30, follow_redirects=True) as client:
        opened = await client.get(f"/?token={token}")
        assert opened.status_code == 200
        answer = await client.get(path)
        assert answer.status_code == 200
        return answer.text


async def _cli(home: Path, database: dict[str, str], *argv: str) -> Any:
    """`provider-router ARGV... --json` on the suite's clock, as the nodes run, over the same store."""
    run = await anyio.run_process(
        on_test_clock("server.cli", *argv, "--json"), env=server_environ(home, {**ENV, **database})
    )
    return json.loads(run.stdout)


async def test_the_dashboard_and_the_cli_show_the_requests_both_nodes_routed(
    tmp_path: Path, database: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock()
    home = tmp_path / "home"
    async with Simulator(seed_lineup().accounts(), clock=clock.epoch) as sim:
        paths = write_config(home, paid_only_config(sim))
        tokens = await member_tokens(paths, clock, dict.fromkeys(CALLS), database)
        async with node(home, database) as first, node(home, database) as second:
            with anyio.fail_after(120):
                async with anyio.create_task_group() as group:
                    for url, member in ((first.url, "alpha"), (second.url, "bravo")):
                        group.start_soon(_route, url, tokens[member], member, CALLS[member])
        log = await _cli(home, database, "log")
        status = await _cli(home, database, "status")
        costs = await _cli(home, database, "costs")
        performance = await _cli(home, database, "performance")
        quota = await _cli(home, database, "quota")
        for name, value in database.items():
            monkeypatch.setenv(name, value)
        with serving(home) as dashboard:
            overview = await _page(dashboard.base, dashboard.token, "/")
            every = _decision_links(await _page(dashboard.base, dashboard.token, "/routing"))
            alpha = _decision_links(await _page(dashboard.base, dashboard.token, "/routing?member=alpha"))
            bravo = _decision_links(await _page(dashboard.base, dashboard.token, "/routing?member=bravo"))
            reports = [
                await _page(dashboard.base, dashboard.token, path)
                for path in ("/costs?period=day", "/performance", "/flow", f"/routing/{max(every, key=int)}")
            ]
    total = sum(CALLS.values())
    assert sim.stats("openai").requests == total
    decisions = log["decisions"]
    assert len(decisions) == total
    assert {d["conversation_id"] for d in decisions} == {"alpha-chat", "bravo-chat"}
    assert [d["conversation_id"] for d in decisions].count("bravo-chat") == CALLS["bravo"]
    assert (len(alpha), len(bravo)) == (CALLS["alpha"], CALLS["bravo"])
    assert every == alpha | bravo == {str(d["id"]) for d in decisions}
    assert f'data-watermark="{max(d["id"] for d in decisions)}"' in overview
    (paid,) = [p for p in status["providers"] if p["enabled"]]
    assert (paid["id"], paid["requests_24h"]) == ("openai", total)
    assert [q["used"] for q in paid["accounts"][0]["quota"]] == [total]
    assert (costs["requests"], costs["by_provider"][0]["group"]) == (total, "openai")  # this month: both nodes
    assert [p["id"] for p in quota["providers"]] == [p["id"] for p in status["providers"]]
    assert performance["by_provider"] == [] or performance["by_provider"][0]["requests"] == total  # today (UTC)
    assert "gpt-5.2" in reports[-1]  # every page answered 200; the newest decision's page names its model


async def _overview_frames(base: str, token: str, seen: list[str], opened: anyio.Event) -> None:
    """The live overview's SSE stream: the html of every `overview` event, appended to `seen`."""
    async with httpx2.AsyncClient(base_url=base, timeout=30, follow_redirects=True) as client:
        assert (await client.get(f"/?token={token}")).status_code == 200
        async with client.stream("GET", "/events") as stream:
            opened.set()
            event = ""
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "overview":
                    seen.append(json.loads(line.removeprefix("data: "))["html"])


async def test_a_request_a_node_routes_appears_in_the_live_overview_s_stream(
    tmp_path: Path, database: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock()
    home = tmp_path / "home"
    async with Simulator(seed_lineup().accounts(), clock=clock.epoch) as sim:
        paths = write_config(home, paid_only_config(sim))
        tokens = await member_tokens(paths, clock, {"alpha": None}, database)
        for name, value in database.items():
            monkeypatch.setenv(name, value)
        seen: list[str] = []
        opened = anyio.Event()
        with serving(home) as dashboard:
            async with node(home, database) as first:
                with anyio.fail_after(60):
                    async with anyio.create_task_group() as group:
                        group.start_soon(_overview_frames, dashboard.base, dashboard.token, seen, opened)
                        await opened.wait()
                        while not seen:  # the stream's first frame: the overview before the request
                            await anyio.sleep(0.01)
                        await _route(first.url, tokens["alpha"], "alpha", 1)
                        while 'data-watermark="1"' not in seen[-1]:
                            await anyio.sleep(0.01)
                        group.cancel_scope.cancel()
    assert 'data-watermark="0"' in seen[0]
    assert 'href="/routing/1"' not in seen[0]
    assert 'href="/routing/1"' in seen[-1]
