"""`provider-router demo`: the scripted tour runs to completion on the simulator, fast, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from server.cli import main
from server.cli.demo import play_demo
from tests.clock import FixedClock


@pytest.mark.anyio
async def test_the_demo_shows_failovers_an_even_pool_a_budget_stop_and_refusals(tmp_path: Path) -> None:
    with anyio.fail_after(60):
        summary = await play_demo(tmp_path, quiet=True)
    assert summary.requests == len(summary.events) >= 30
    assert summary.google_pool == {"google-1": 4, "google-2": 4, "google-3": 4}
    failed_over = {a.error_class for e in summary.events for a in e.attempts if a.outcome == "error"}
    assert {"rate_limited", "overloaded", "quota_exhausted", "server_error"} <= failed_over
    budget_phase = [e for e in summary.events if e.phase == 3]
    assert {e.provider for e in budget_phase} == {"zai", "google"}  # a cheap model fits the cap, then only free ones
    assert all(e.reason == "limit" for e in budget_phase)
    assert summary.refused >= 1 and all(e.phase == 4 for e in summary.events if e.refused)
    assert summary.events[-1].provider == "openai"  # the raised budget lets paid models serve again
    assert summary.dashboard["ready"] is True


def test_demo_json_runs_from_the_cli_in_a_temporary_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    assert main(["demo", "--json"], clock=FixedClock()) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["served"] + summary["refused"] == summary["requests"]
    assert not (tmp_path / "user-home").exists()  # the user's own home is never touched
    assert list((tmp_path / "tmp").iterdir()) == []  # the demo's home is deleted afterwards


def test_demo_prints_each_request_and_the_final_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"], clock=FixedClock()) == 0
    out = capsys.readouterr().out
    assert "↳ failover: OpenAI rate_limited → Anthropic" in out
    assert "✗ refused:" in out
    assert "Provider Router Status" in out and "Google #3" in out
    assert "Next: provider-router setup" in out
