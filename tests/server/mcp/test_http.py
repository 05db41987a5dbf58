"""`serve --http`: the MCP streamable-HTTP app behind the token gate, in this process on a loopback port, over the
seed's providers on the simulator; members added through the same action as `team add`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from server.actions.team import add_member
from server.wiring.app import App, open_app
from tests.clock import FixedClock
from tests.harness import ENV, simulated_home
from tests.server.mcp.http_support import http_client, http_server, structured
from tests.server.mcp_support import read_json

pytestmark = pytest.mark.anyio

PROMPT = "Write a haiku about queues."
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


async def _members(app: App, **caps: dict[str, Any]) -> dict[str, str]:
    """Add each member through `team add`'s action; their tokens by name."""
    tokens = {}
    for name, options in caps.items():
        issued = await add_member(
            app,
            name,
            budget_daily=options.get("budget_daily"),
            budget_monthly=options.get("budget_monthly"),
            admin=bool(options.get("admin")),
        )
        tokens[name] = issued.token
    return tokens


async def test_without_a_valid_token_a_request_gets_401_and_nothing_else(tmp_path: Path) -> None:
    clock = FixedClock()
    async with simulated_home(tmp_path / "home", clock) as (_sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            await _members(app, alice={})
        async with http_server(paths, clock) as (url, _apps), httpx2.AsyncClient(timeout=10) as http:
            for headers in ({}, {"authorization": "Bearer prt_wrong"}, {"authorization": "Basic YWxpY2U6eA=="}):
                response = await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})
                assert response.status_code == 401
                assert response.text == "401 Unauthorized"
                assert "mcp-session-id" not in response.headers
                assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_member_s_token_routes_and_the_decision_is_theirs_alone(tmp_path: Path) -> None:
    clock = FixedClock()
    async with simulated_home(tmp_path / "home", clock) as (_sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            tokens = await _members(app, alice={}, bob={}, root={"admin": True})
        async with http_server(paths, clock) as (url, _apps):
            async with http_client(url, tokens["alice"]) as alice:
                out = structured(await alice.call_tool("route_and_complete", {"prompt": PROMPT}))
                assert out["provider"] and out["decision_id"]
                mine = await read_json(alice, "router://decisions")
                assert [d["id"] for d in mine["decisions"]] == [out["decision_id"]]
            async with http_client(url, tokens["bob"]) as bob:
                theirs = await read_json(bob, "router://decisions")
                assert theirs["decisions"] == []
                with pytest.raises(Exception, match="no decision"):
                    await read_json(bob, f"router://decisions/{out['decision_id']}")
            async with http_client(url, tokens["root"]) as root:
                every = await read_json(root, "router://decisions")
                assert [d["id"] for d in every["decisions"]] == [out["decision_id"]]
        async with open_app(paths, ENV, clock=clock) as app:
            rows = await app.store.fetchall("SELECT member FROM decisions")
            reserved = await app.store.fetchall("SELECT member, state FROM reservations")
    assert rows == [("alice",)]
    assert [tuple(r) for r in reserved] == [("alice", "settled")]


async def test_a_member_s_budget_holds_on_every_candidate_while_the_global_budget_has_room(tmp_path: Path) -> None:
    clock = FixedClock()
    async with simulated_home(tmp_path / "home", clock, budgetMode="quality_first") as (sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            tokens = await _members(app, broke={"budget_daily": 0.0}, rich={})
        async with http_server(paths, clock) as (url, _apps):
            async with http_client(url, tokens["broke"]) as broke:
                result = await broke.call_tool("route_and_complete", {"prompt": PROMPT, "budget_mode": "cost_first"})
                # only a free candidate can serve a member with no money left: every paid one was refused by the cap
                served = structured(result) if not result.is_error else None
                paid = sim.stats("openai").requests + sim.stats("anthropic").requests
            async with http_client(url, tokens["rich"]) as rich:
                pinned = await rich.call_tool("route_and_complete", {"prompt": PROMPT, "provider": "openai"})
            async with http_client(url, tokens["broke"]) as broke:
                fallback = structured(
                    await broke.call_tool("route_and_complete", {"prompt": PROMPT, "provider": "openai"})
                )
    assert paid == 0
    assert served is None or served["cost_usd"] == 0
    assert not pinned.is_error and structured(pinned)["provider"] == "openai"
    # the pinned paid provider and every paid fallback were refused by the member's cap; a free one served
    refusals = [a for a in fallback["attempts"] if a["outcome"] == "skipped"]
    assert fallback["cost_usd"] == 0 and fallback["provider"] == "google"
    assert {a["provider"] for a in refusals} >= {"openai", "anthropic"}
    assert all("member:broke" in a["detail"] for a in refusals)


async def test_several_clients_hold_their_own_sessions_at_once(tmp_path: Path) -> None:
    clock = FixedClock()
    async with simulated_home(tmp_path / "home", clock) as (_sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            tokens = await _members(app, **{f"m{i}": {} for i in range(4)})
        providers: dict[str, str] = {}
        async with http_server(paths, clock) as (url, apps):

            async def one(name: str) -> None:
                async with http_client(url, tokens[name]) as client:
                    first = structured(await client.call_tool("route_and_complete", {"prompt": PROMPT}))
                    again = structured(
                        await client.call_tool(
                            "route_and_complete",
                            {"prompt": "And one more.", "conversation_id": first["conversation_id"]},
                        )
                    )
                    assert again["conversation_id"] == first["conversation_id"]
                    providers[name] = str(again["provider"])

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    for name in tokens:
                        group.start_soon(one, name)
            assert len(apps) == 1  # one App (one HTTP client, one store) for every session
        async with open_app(paths, ENV, clock=clock) as app:
            rows = await app.store.fetchall("SELECT member, COUNT(*) FROM decisions GROUP BY member ORDER BY member")
    assert sorted(providers) == sorted(tokens)
    assert [tuple(r) for r in rows] == [(name, 2) for name in sorted(tokens)]


async def test_on_loopback_without_any_member_the_local_user_needs_no_token(tmp_path: Path) -> None:
    clock = FixedClock()
    async with (
        simulated_home(tmp_path / "home", clock) as (_sim, paths),
        http_server(paths, clock) as (url, _apps),
        http_client(url) as client,
    ):
        out = structured(await client.call_tool("route_and_complete", {"prompt": PROMPT}))
    assert out["provider"]


async def test_members_never_share_a_cached_answer(tmp_path: Path) -> None:
    clock = FixedClock()
    call = {"prompt": PROMPT, "temperature": 0, "cache": True}
    async with simulated_home(tmp_path / "home", clock) as (sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            tokens = await _members(app, alice={}, bob={})
        async with http_server(paths, clock) as (url, _apps):
            async with http_client(url, tokens["alice"]) as alice:
                first = structured(await alice.call_tool("route_and_complete", call))
                again = structured(await alice.call_tool("route_and_complete", call))
            async with http_client(url, tokens["bob"]) as bob:
                other = structured(await bob.call_tool("route_and_complete", call))
    assert (first["cache_hit"], again["cache_hit"], other["cache_hit"]) == (False, True, False)
    assert sum(sim.stats(account.id).requests for account in sim.spec.accounts) == 2


async def test_only_an_admin_changes_the_team_s_routing_and_a_member_may_pin_their_own_conversation(
    tmp_path: Path,
) -> None:
    clock = FixedClock()
    async with simulated_home(tmp_path / "home", clock) as (_sim, paths):
        async with open_app(paths, ENV, clock=clock) as app:
            tokens = await _members(app, alice={}, root={"admin": True})
        async with http_server(paths, clock) as (url, _apps):
            async with http_client(url, tokens["alice"]) as alice:
                refused = await alice.call_tool("set_preference", {"budget_mode": "free_only"})
                pin = await alice.call_tool("switch_provider", {"provider": "zai"})
                mine = await alice.call_tool("switch_provider", {"provider": "zai", "conversation_id": "c1"})
            async with http_client(url, tokens["root"]) as root:
                allowed = await root.call_tool("set_preference", {"budget_mode": "free_only"})
    assert refused.is_error and "ask an admin" in str(refused.content)
    assert pin.is_error and "conversation_id" in str(pin.content)
    assert not mine.is_error and not allowed.is_error
    assert '"free_only"' in paths.config_file.read_text()
