"""The response cache over MCP: a deterministic request asked twice reaches the provider once."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.server.mcp_support import Session, mcp_session, text_of

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function: def f(x): return x +"


def upstream_calls(s: Session) -> int:
    return sum(s.sim.stats(a).requests for a in ("openai", "anthropic", "zai", "kimi", "google-1"))


async def test_a_deterministic_request_asked_twice_reaches_the_provider_once(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            first = await s.ok("route_and_complete", prompt=CODING, task_type="coding", temperature=0)
            result = await s.call("route_and_complete", prompt=CODING, task_type="coding", temperature=0)
        calls = upstream_calls(s)
        second = result.structured_content
        assert second is not None
        logged = await s.read(f"router://decisions/{second['decision_id']}")
        metrics = await s.read("router://metrics")
    assert calls == 1
    assert first["cache_hit"] is False and first["reason"] == "preference" and first["cost_usd"] > 0
    assert second["cache_hit"] is True and second["reason"] == "cache"
    assert second["text"] == first["text"] and (second["provider"], second["model"]) == ("openai", "gpt-5.2")
    assert second["cost_usd"] == 0 and second["attempts"] == []
    assert logged["reason"] == "cache" and logged["attempts"] == []
    assert "· cache ·" in text_of(result)
    paid = first["usage"]["input_tokens"] + first["usage"]["output_tokens"]
    assert metrics["cache"]["hits"] == 1 and metrics["cache"]["entries"] == 1
    assert metrics["cache"]["tokens_saved"] == paid and metrics["cache"]["dollars_saved"] == first["cost_usd"]


async def test_another_conversation_scope_never_reads_the_entry(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt=CODING, task_type="coding", temperature=0)
            other = await s.ok(
                "route_and_complete", prompt=CODING, task_type="coding", temperature=0, conversation_id="scope-b"
            )
        calls = upstream_calls(s)
    assert other["cache_hit"] is False and other["reason"] != "cache"
    assert calls == 2


async def test_cache_false_bypasses_the_cache_and_a_dry_run_never_reads_it(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt=CODING, task_type="coding", temperature=0)
            bypass = await s.ok("route_and_complete", prompt=CODING, task_type="coding", temperature=0, cache=False)
            dry = await s.ok("route_and_complete", prompt=CODING, task_type="coding", temperature=0, dry_run=True)
        calls = upstream_calls(s)
    assert bypass["cache_hit"] is False and bypass["reason"] == "preference"
    assert dry["cache_hit"] is False and dry["reason"] == "preference"
    assert calls == 2


async def test_a_call_without_temperature_zero_is_cached_only_when_it_opts_in(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt=CODING, task_type="coding")
            plain = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
            await s.ok("route_and_complete", prompt=CODING, task_type="coding", cache=True)
            opted = await s.ok("route_and_complete", prompt=CODING, task_type="coding", cache=True)
        calls = upstream_calls(s)
    assert plain["cache_hit"] is False and opted["cache_hit"] is True
    assert calls == 3
