"""Each action and view through each surface: the CLI's `--json` and the MCP tool, on two identical homes, agree."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.server.mcp_support import mcp_session
from tests.server.test_cli_support import SimHome, sim_home

Call = tuple[str, dict[str, Any]]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    with sim_home(tmp_path, monkeypatch, capsys) as home:
        yield home


def _through_mcp(home: Path, calls: Sequence[Call], read: str | None = None) -> list[Any]:
    async def session() -> list[Any]:
        async with mcp_session(home) as mcp:
            results: list[Any] = [await mcp.ok(tool, **arguments) for tool, arguments in calls]
            return results + ([await mcp.read(read)] if read else [])

    return anyio.run(session)


def _switches(log: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k != "id"} for s in log["switches"]]


def _as_cli_renders(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("provider", "model", "conversation_id", "scope")
    return {k: result[k] or "auto" if k == "provider" else result[k] for k in keys}


def test_switch_resolves_aliases_creates_conversations_and_records_the_previous_pin_on_both(
    env: SimHome, tmp_path: Path
) -> None:
    steps = [
        (["moonshot"], {"provider": "moonshot"}),
        (["zai", "--conversation", "c-1"], {"provider": "zai", "conversation_id": "c-1"}),
        (["kimi", "--conversation", "c-1"], {"provider": "kimi", "conversation_id": "c-1"}),
        (["openai"], {"provider": "openai"}),
        (["auto"], {"provider": "auto"}),
    ]
    cli = [env.cli("switch", *argv, "--json").json() for argv, _ in steps]
    *tools, decisions = _through_mcp(tmp_path / "mcp", [("switch_provider", a) for _, a in steps], "router://decisions")
    assert cli == [_as_cli_renders(t) for t in tools]
    assert cli[0]["provider"] == "kimi"
    assert _switches(env.cli("log", "--json").json()) == _switches(decisions)
    assert [s["from_provider"] for s in _switches(decisions)] == ["openai", "kimi", "zai", None, None]


def test_an_unknown_provider_is_refused_by_both(env: SimHome, tmp_path: Path) -> None:
    run = env.cli("switch", "nope", "--json")

    async def tool() -> str:
        async with mcp_session(tmp_path / "mcp") as mcp:
            result = await mcp.call("switch_provider", provider="nope")
            assert result.is_error
            return "\n".join(getattr(block, "text", "") for block in result.content)

    refused = anyio.run(tool)
    reason = refused.partition(": ")[2]  # after the SDK's "Error executing tool switch_provider: "
    assert reason.startswith("no provider 'nope' is configured; configured: zai, kimi")
    assert run.code == 1 and reason in run.err


def _without(report: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in keys}


def test_status_is_the_same_report_on_both(env: SimHome, tmp_path: Path) -> None:
    env.cli("switch", "zai")
    cli = env.cli("status", "--json").json()
    _, status = _through_mcp(tmp_path / "mcp", [("switch_provider", {"provider": "zai"}), ("provider_status", {})])
    assert _without(cli, "current", "activity", "config") == _without(status, "config")
    assert status["manual_switch"]["provider"] == "zai"


@pytest.mark.parametrize("period", ["day", "month"])
def test_quota_is_the_same_report_on_both(env: SimHome, tmp_path: Path, period: str) -> None:
    env.cli("ask", "Fix this function", "--task", "coding")
    cli = env.cli("quota", "--period", period, "--json").json()
    calls: list[Call] = [
        ("route_and_complete", {"prompt": "Fix this function", "task_type": "coding"}),
        ("quota_report", {"period": period}),
    ]
    _, report = _through_mcp(tmp_path / "mcp", calls)
    assert cli == report
    assert any(a["requests_used"] for p in report["providers"] for a in p["accounts"])


def test_prefer_and_budget_leave_the_same_preferences_as_set_preference(env: SimHome, tmp_path: Path) -> None:
    env.cli("prefer", "--task", "coding", "zai", "kimi")
    cli = env.cli("budget", "cost_first", "--json").json()
    calls: list[Call] = [
        ("set_preference", {"providers": ["zai", "kimi"], "task_type": "coding"}),
        ("set_preference", {"budget_mode": "cost_first"}),
    ]
    _, result = _through_mcp(tmp_path / "mcp", calls)
    assert cli == result["preferences"]
    assert cli["task_preferences"]["coding"] == ["zai", "kimi"]


def test_ask_and_route_and_complete_route_the_same_request_alike(env: SimHome, tmp_path: Path) -> None:
    cli = env.cli("ask", "Fix this function", "--task", "coding", "--provider", "moonshot", "--json").json()
    calls: list[Call] = [
        ("route_and_complete", {"prompt": "Fix this function", "task_type": "coding", "provider": "moonshot"})
    ]
    [tool] = _through_mcp(tmp_path / "mcp", calls)
    same = ("text", "provider", "model", "account", "reason", "cost_usd", "usage", "decision_id")  # ids are random
    assert {k: cli[k] for k in same} == {k: tool[k] for k in same}
    assert (tool["provider"], tool["reason"]) == ("kimi", "manual")


def test_a_dry_run_decides_alike_on_both(env: SimHome, tmp_path: Path) -> None:
    cli = env.cli("ask", "Summarise this log", "--dry-run", "--json").json()
    [tool] = _through_mcp(tmp_path / "mcp", [("route_and_complete", {"prompt": "Summarise this log", "dry_run": True})])
    same = ("provider", "model", "account", "reason", "candidates", "excluded", "explanation", "task_type")
    assert {k: cli[k] for k in same} == {k: tool[k] for k in same}
    assert tool["provider"] is not None
