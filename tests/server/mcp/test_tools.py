"""The five MCP tools through an in-memory client, against the seed's providers on the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from server.mcp.server import INSTRUCTIONS
from tests.server.mcp_support import mcp_session, text_of

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function: def f(x): return x +"
ROUTE_FIELDS = {
    "text", "provider", "model", "account", "reason", "confidence", "usage", "cost_usd", "latency_ms", "attempts",
    "conversation_id", "decision_id",
}  # fmt: skip


async def test_the_five_tools_are_listed_with_described_inputs_and_annotations(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        tools = {tool.name: tool for tool in (await s.client.list_tools()).tools}
        assert s.client.instructions == INSTRUCTIONS
    assert set(tools) == {"route_and_complete", "provider_status", "set_preference", "switch_provider", "quota_report"}
    route = tools["route_and_complete"]
    props = route.input_schema["properties"]
    assert {"prompt", "messages", "system", "task_type", "quality", "budget_mode", "provider", "model",
            "conversation_id", "max_output_tokens", "temperature", "max_cost_usd", "dry_run", "files", "images",
            "line_numbers"} <= set(props)  # fmt: skip
    assert "roots" not in props  # the server asks the client for them; the agent never writes them
    assert all(props[name].get("description") for name in props)
    assert set(route.output_schema["properties"]) >= ROUTE_FIELDS  # type: ignore[index]
    assert route.annotations is not None and route.annotations.open_world_hint and not route.annotations.read_only_hint
    for name in ("provider_status", "quota_report"):
        read_only = tools[name].annotations
        assert read_only is not None and read_only.read_only_hint
    for name in ("set_preference", "switch_provider"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.idempotent_hint and not annotations.destructive_hint
    assert tools["switch_provider"].input_schema["required"] == ["provider"]


async def test_a_routed_answer_reads_as_the_answer_plus_one_routing_line(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            result = await s.call("route_and_complete", prompt=CODING, task_type="coding")
    assert not result.is_error
    out = result.structured_content
    assert out is not None and set(out) >= ROUTE_FIELDS
    assert [out["provider"], out["model"], out["account"], out["reason"]] == [
        "openai",
        "gpt-5.2",
        "openai",
        "preference",
    ]
    assert out["usage"]["input_tokens"] > 0 and out["cost_usd"] > 0
    assert [a["outcome"] for a in out["attempts"]] == ["success"]
    answer, line = text_of(result).rsplit("\n\n", 1)
    assert answer == out["text"]
    assert line.startswith("— routed to openai/gpt-5.2 (account openai) · preference · $")
    assert line.endswith(f"conversation {out['conversation_id']}") and "\n" not in line


async def test_a_follow_up_with_the_conversation_id_stays_on_the_same_model(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            first = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
            again = await s.ok(
                "route_and_complete",
                prompt="Now add a docstring",
                task_type="coding",
                conversation_id=first["conversation_id"],
            )
        stored = await s.app.conversations.get(first["conversation_id"])
    assert again["conversation_id"] == first["conversation_id"]
    assert (again["provider"], again["model"]) == (first["provider"], first["model"])
    assert stored is not None and [m.role for m in stored.messages] == ["user", "assistant", "user", "assistant"]


async def test_messages_and_system_turns_are_accepted_in_place_of_a_prompt(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        messages = [
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "Name a prime"},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Another one"},
        ]
        with anyio.fail_after(10):
            out = await s.ok("route_and_complete", messages=messages, task_type="simple")
        sent = s.sim.requests(out["account"])[-1]
    assert out["text"] and out["provider"] == "google"
    assert "Answer in one line." in json.dumps(sent.body)


async def test_a_dry_run_explains_the_choice_without_calling_anyone(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        result = await s.call("route_and_complete", prompt=CODING, task_type="coding", dry_run=True)
        calls = sum(s.sim.stats(a).requests for a in ("openai", "anthropic", "zai", "kimi", "google-1"))
    out = result.structured_content
    assert out is not None and out["dry_run"] and out["text"] == ""
    assert out["provider"] == "openai" and out["candidates"][0]["provider"] == "openai"
    assert "score" in out["candidates"][0] and out["decision_id"]
    assert calls == 0
    assert text_of(result).startswith("dry run: would route to openai/gpt-5.2 (account openai) · preference")


async def test_a_pin_given_by_alias_is_served_by_that_provider(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            out = await s.ok("route_and_complete", prompt="hi", provider="moonshot")
    assert out["provider"] == "kimi"


async def test_a_dry_run_in_free_only_mode_lists_each_exclusion_with_its_filter(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        out = await s.ok("route_and_complete", prompt=CODING, task_type="coding", budget_mode="free_only", dry_run=True)
    assert {c["provider"] for c in out["candidates"]} == {"google"}
    assert {e["filter"] for e in out["excluded"]} == {"budget_mode"}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "exactly one of `prompt`"),
        ({"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "exactly one of `prompt`"),
        ({"messages": [{"role": "assistant", "content": "b"}]}, "last message must be the user's"),
        ({"prompt": "a", "task_type": "poetry"}, "task_type"),
        ({"prompt": "a", "temperature": 9}, "temperature"),
        ({"prompt": "a", "conversation_id": "../../etc/passwd"}, "conversation_id"),
        ({"prompt": "a", "provider": "mistral"}, "no provider 'mistral' is configured; configured: zai, kimi"),
        ({"prompt": "a", "model": "gpt-2"}, "no configured provider has a model 'gpt-2'"),
        ({"prompt": "a", "provider": "openai", "model": "glm-4.7"}, "its models: gpt-5.2"),
    ],
)
async def test_invalid_arguments_are_a_tool_error_naming_the_argument_or_the_valid_values(
    tmp_path: Path, arguments: dict[str, object], expected: str
) -> None:
    async with mcp_session(tmp_path) as s:
        result = await s.client.call_tool("route_and_complete", arguments)
    assert result.is_error and expected in text_of(result)


async def test_a_failover_is_visible_in_the_answer_line_and_the_attempts(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        s.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            result = await s.call("route_and_complete", prompt=CODING, task_type="coding")
    out = result.structured_content
    assert out is not None and (out["provider"], out["reason"]) == ("anthropic", "failover")
    assert [(a["provider"], a["outcome"], a["error_class"]) for a in out["attempts"]] == [
        ("openai", "error", "rate_limited"),
        ("anthropic", "success", None),
    ]
    assert "· failover after 1 failed attempt ·" in text_of(result)


async def test_when_every_provider_fails_the_tool_error_lists_the_attempts_and_the_fix(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        for account in ("zai", "kimi", "google-1", "google-2", "google-3", "openai", "anthropic"):
            s.sim.set_down(account, "auth")
        with anyio.fail_after(10):
            result = await s.call("route_and_complete", prompt=CODING, task_type="coding")
    text = text_of(result)
    assert result.is_error
    assert "no provider could serve this request" in text
    assert "openai/gpt-5.2 @ openai: error (auth_failed)" in text and "anthropic/" in text
    assert "Fix:" in text


async def test_progress_reaches_a_client_that_asks_for_it(tmp_path: Path) -> None:
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, message))

    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            result = await s.client.call_tool(
                "route_and_complete", {"prompt": CODING, "task_type": "coding"}, progress_callback=on_progress
            )
    assert not result.is_error
    # the simulator streams at most 8 deltas, fewer than the router reports progress for after the first
    assert seen[0] == (0, "routed to openai/gpt-5.2")


async def test_provider_status_reports_health_quota_and_pins(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        s.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        await s.ok("switch_provider", provider="zai")
        status = await s.ok("provider_status")
        one = await s.ok("provider_status", provider="openai")
        unknown = await s.call("provider_status", provider="mistral")
    assert status["ready"] and status["problems"] == []
    health = {p["id"]: p["health"] for p in status["providers"]}
    assert health["openai"] == "cooling_down" and health["anthropic"] == "healthy"
    assert status["manual_switch"]["provider"] == "zai"
    assert [p["id"] for p in one["providers"]] == ["openai"]
    assert one["providers"][0]["cooldown_until"] and one["providers"][0]["accounts"][0]["key"]
    assert unknown.is_error and "configured: zai, kimi, google, openai, anthropic" in text_of(unknown)


async def test_quota_report_counts_requests_per_account_for_the_period(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            for n in range(3):
                await s.ok("route_and_complete", prompt=f"Summarize item {n} in one line", task_type="simple")
        day = await s.ok("quota_report", provider="google")
        month = await s.ok("quota_report", period="month")
    accounts = day["providers"][0]["accounts"]
    assert [(a["account"], a["requests_used"], a["requests_limit"]) for a in accounts] == [
        ("google-1", 1, 20),
        ("google-2", 1, 20),
        ("google-3", 1, 20),
    ]
    assert all(a["resets_at"] and a["forecast"] for a in accounts)
    assert month["period"] == "month" and len(month["providers"]) == 5


async def test_set_preference_reorders_a_task_type_in_the_file_and_at_once(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        out = await s.ok("set_preference", task_type="coding", providers=["anthropic", "openai"])
        with anyio.fail_after(10):
            routed = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        budget = await s.ok("set_preference", budget_mode="free_only")
        saved = json.loads(s.paths.config_file.read_text())
    assert out["preferences"]["task_preferences"]["coding"] == ["anthropic", "openai"]
    assert out["changed"] and out["config_file"] == str(s.paths.config_file)
    assert routed["provider"] == "anthropic"
    assert budget["preferences"]["budget_mode"] == "free_only"
    assert saved["preferences"]["taskPreferences"]["coding"] == ["anthropic", "openai"]
    assert saved["preferences"]["budgetMode"] == "free_only"


async def test_set_preference_takes_the_default_provider_by_flag_or_by_id(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        by_id = await s.ok("set_preference", default="kimi")
        by_flag = await s.ok("set_preference", default=True, providers=["openai"])
    assert by_id["preferences"]["default"] == "kimi"
    assert by_flag["preferences"]["default"] == "openai"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"default": "kimi", "providers": ["zai"]}, "name the default provider once"),
        ({"task_type": "coding", "providers": ["mistral"]}, "no provider 'mistral' is configured; configured: zai"),
        ({"providers": ["openai"]}, "exactly one of task_type, quality or default=true"),
        ({}, "nothing to change"),
        ({"default": True, "providers": ["openai", "zai"]}, "the default is one provider"),
    ],
)
async def test_set_preference_refuses_what_it_cannot_apply(
    tmp_path: Path, arguments: dict[str, object], expected: str
) -> None:
    async with mcp_session(tmp_path) as s:
        before = s.paths.config_file.read_text()
        result = await s.client.call_tool("set_preference", arguments)
        assert s.paths.config_file.read_text() == before
    assert result.is_error and expected in text_of(result)


async def test_switch_provider_pins_everything_then_auto_returns_to_routing(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        pinned = await s.ok("switch_provider", provider="zai")
        with anyio.fail_after(10):
            manual = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
            await s.ok("switch_provider", provider="auto")
            automatic = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        switches = await s.app.decisions.switches()
    assert pinned["scope"] == "global" and pinned["manual_switch"]["provider"] == "zai"
    assert (manual["provider"], manual["reason"]) == ("zai", "manual")
    assert automatic["provider"] == "openai"
    assert [(w.record.reason, w.record.from_provider, w.record.to_provider) for w in switches[:2]] == [
        ("manual", "zai", None),
        ("manual", None, "zai"),
    ]


async def test_switch_provider_scoped_to_a_conversation_leaves_the_others_alone(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with anyio.fail_after(10):
            first = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
            cid = first["conversation_id"]
            out = await s.ok("switch_provider", provider="moonshot", model="kimi-k3.1-pro", conversation_id=cid)
            follow = await s.ok("route_and_complete", prompt="Now add a docstring", conversation_id=cid)
            other = await s.ok("route_and_complete", prompt=CODING, task_type="coding")
        status = await s.ok("provider_status")
    assert (out["scope"], out["provider"], out["model"]) == ("conversation", "kimi", "kimi-k3.1-pro")
    assert follow["provider"] == "kimi" and other["provider"] == "openai"
    [pin] = status["conversation_pins"]
    assert (pin["provider"], pin["model"], pin["conversation_id"]) == ("kimi", "kimi-k3.1-pro", cid)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"provider": "mistral"}, "configured: zai, kimi, google, openai, anthropic"),
        ({"provider": "openai", "model": "gpt-2"}, "its models: gpt-5.2"),
        ({"provider": "auto", "conversation_id": "nope"}, "no conversation 'nope'"),
        ({"provider": "openai", "conversation_id": "../x"}, "a conversation id is"),
    ],
)
async def test_switch_provider_refuses_unknown_targets_naming_the_valid_ones(
    tmp_path: Path, arguments: dict[str, object], expected: str
) -> None:
    async with mcp_session(tmp_path) as s:
        result = await s.client.call_tool("switch_provider", arguments)
    assert result.is_error and expected in text_of(result)
