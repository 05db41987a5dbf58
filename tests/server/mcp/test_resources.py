"""The MCP resources: the decision log (list and one decision), metrics, providers and the redacted config."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.harness import seed_config
from tests.server.mcp_support import mcp_session

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function: def f(x): return x +"


async def test_the_resources_and_the_decision_template_are_listed_as_json(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        listed = (await s.client.list_resources()).resources
        templates = (await s.client.list_resource_templates()).resource_templates
    assert {str(r.uri) for r in listed} == {
        "router://decisions",
        "router://metrics",
        "router://providers",
        "router://config",
    }
    assert all(r.mime_type == "application/json" for r in listed)
    assert [(t.uri_template, t.mime_type) for t in templates] == [("router://decisions/{id}", "application/json")]


async def test_a_failover_shows_in_the_decision_log_and_in_the_decision_itself(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        s.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt="Say hi", task_type="simple")
            routed = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        log = await s.read("router://decisions")
        one = await s.read(f"router://decisions/{routed['decision_id']}")
    newest = log["decisions"][0]
    assert newest["id"] == routed["decision_id"] and len(log["decisions"]) == 2
    assert (newest["provider"], newest["reason"], newest["failover"]) == ("anthropic", "failover", True)
    assert [(a["provider"], a["outcome"], a["error_class"]) for a in newest["attempts"]] == [
        ("openai", "error", "rate_limited"),
        ("anthropic", "success", None),
    ]
    assert one["id"] == routed["decision_id"] and one["attempts"] == newest["attempts"]
    assert [c["provider"] for c in one["candidates"]][:2] == ["openai", "anthropic"]
    assert one["explanation"] and "exclusions" in one
    assert one["prompt"] is None and CODING not in str(log) + str(one)


@pytest.mark.parametrize("bad", ["999999", "abc", "1 OR 1=1", "-1", "%2e%2e%2fconfig", "9" * 40])
async def test_a_bad_or_hostile_decision_id_is_a_clean_not_found(tmp_path: Path, bad: str) -> None:
    async with mcp_session(tmp_path) as s:
        with pytest.raises(MCPError) as caught:
            await s.client.read_resource(f"router://decisions/{bad}")
    assert "no decision" in caught.value.error.message or "Unknown resource" in caught.value.error.message


async def test_metrics_count_requests_errors_cost_and_latency_per_provider_and_account(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        s.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        metrics = await s.read("router://metrics")
    by_provider = {m["group"]: m for m in metrics["by_provider"]}
    assert by_provider["openai"]["failed"] == 1 and by_provider["openai"]["errors_by_class"] == {"rate_limited": 1}
    anthropic = by_provider["anthropic"]
    assert (anthropic["requests"], anthropic["success"]) == (1, 1) and anthropic["cost_usd"] > 0
    assert anthropic["output_tokens"] > 0 and anthropic["latency_p95_ms"] is not None
    assert {m["group"] for m in metrics["by_account"]} == {"openai", "anthropic"}


async def test_the_providers_resource_lists_models_and_health(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        view = await s.read("router://providers")
    google = next(p for p in view["providers"] if p["id"] == "google")
    assert google["accounts"] == ["google-1", "google-2", "google-3"]
    assert google["credentials"]["google-1"] == "env:SIM_KEY" and google["health"] == "healthy"
    assert google["models"][0]["id"] == "gemini-3.5-flash-lite"


async def test_the_config_resource_shows_key_references_and_no_problem(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        config = await s.read("router://config")
    assert config["problem"] is None
    assert config["providers"]["openai"]["accounts"][0]["credential"] == "env:SIM_KEY"
    assert config["preferences"]["default"] == "zai"


async def test_prompts_appear_in_a_decision_only_when_the_user_enabled_it(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        config = seed_config(s.sim)
        config["settings"] = {"logPrompts": True}
        s.paths.config_file.write_text(json.dumps(config))
        with anyio.fail_after(10):
            routed = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        one = await s.read(f"router://decisions/{routed['decision_id']}")
    assert CODING in one["prompt"]
