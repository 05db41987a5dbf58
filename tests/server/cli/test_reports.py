"""`costs`, `performance`, `log` filters and `--flow`, `status --json`'s activity, and `dashboard`'s first line."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.clock import moved_clock_environ
from tests.server.test_cli_support import SimHome, sim_home

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    with sim_home(tmp_path, monkeypatch, capsys, budgetUsd={"daily": 5}) as home:
        home.cli("ask", "Summarize this", "--task", "simple")
        home.sim.script("openai", ["rate_limited"])
        home.cli("ask", "Fix this Python function", "--task", "coding")
        yield home


def test_costs_prints_the_breakdown_and_its_json_has_every_grouping(env: SimHome) -> None:
    data = env.cli("costs", "--json").json()
    assert data["period"] == "month" and data["requests"] == 2
    assert {g["group"] for g in data["by_provider"]} == {"google", "openai", "anthropic"}
    assert data["burn_down"]["daily_budget_usd"] == 5
    assert data["savings"]["best_quality_usd"] >= data["savings"]["actual_usd"]
    text = env.cli("costs", "--period", "day")
    assert text.code == 0
    assert "Costs this day" in text.out and "Spend by provider" in text.out and "anthropic" in text.out


def test_performance_prints_percentiles_errors_and_failovers(env: SimHome) -> None:
    data = env.cli("performance", "--json").json()
    assert data["errors_by_class"] == {"rate_limited": 1}
    assert data["failovers"]["count"] == 1
    assert {r["group"] for r in data["by_model"]} == {"google/gemini-3.5-flash-lite", "openai/gpt-5.2",
                                                      "anthropic/claude-sonnet-4-6"}  # fmt: skip
    text = env.cli("performance", "--period", "week").out
    assert "Failovers: 1 (1 served)" in text and "rate_limited 1" in text and "TTFT p50" in text


def test_the_reports_take_a_member_and_count_only_their_decisions(env: SimHome) -> None:
    assert env.cli("team", "add", "ada").code == 0
    with closing(sqlite3.connect(env.home / "router.db")) as conn, conn:
        conn.execute("UPDATE decisions SET member = 'ada' WHERE id = (SELECT MIN(id) FROM decisions)")
    costs = env.cli("costs", "--member", "ada", "--json").json()
    assert (costs["member"], costs["requests"]) == ("ada", 1)
    assert {g["group"] for g in costs["by_provider"]} == {"google"}
    performance = env.cli("performance", "--member", "ada", "--json").json()
    assert performance["failovers"]["count"] == 0 and performance["errors_by_class"] == {}
    assert env.cli("log", "--flow", "--member", "ada", "--json").json()["decisions"] == 1
    assert env.cli("log", "--flow", "--member", "bob", "--json").json()["decisions"] == 0
    assert "Costs this month (ada's)" in env.cli("costs", "--member", "ada").out


def test_log_filters_and_the_flow(env: SimHome) -> None:
    only = env.cli("log", "--task", "coding", "--json").json()["decisions"]
    assert [d["task_type"] for d in only] == ["coding"]
    assert env.cli("log", "--outcome", "served", "--json").json()["decisions"][0]["provider"] == "google"
    assert env.cli("log", "--provider", "zai", "--json").json()["decisions"] == []
    assert env.cli("log", "--outcome", "nope").code == 2
    flow = env.cli("log", "--flow", "--json").json()
    assert flow["decisions"] == 2
    assert {(x["source"], x["target"]) for x in flow["ended"]} == {("google", "served"), ("anthropic", "failover")}
    assert "simple" in env.cli("log", "--flow").out


def test_status_json_carries_the_activity_of_the_last_hour(env: SimHome) -> None:
    activity = env.cli("status", "--json").json()["activity"]
    assert activity["last_hour"] == 2 and activity["last_minute"] == 2 and len(activity["per_minute"]) == 60


def test_dashboard_prints_its_url_with_the_token_first_and_serves_it(env: SimHome) -> None:
    environ = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **moved_clock_environ()}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "dashboard", "--no-open", "--port", "0"],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("Dashboard: http://127.0.0.1:") and "/?token=" in first
        address = urlsplit(first.removeprefix("Dashboard: "))
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        try:
            connection.request("GET", f"/?{address.query}")
            response = connection.getresponse()
            response.read()
            assert response.status == 303 and f"provider_router_dashboard_{address.port}=" in (
                response.getheader("set-cookie") or ""
            )
        finally:
            connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_dashboard_refuses_a_port_out_of_range(env: SimHome) -> None:
    run = env.cli("dashboard", "--no-open", "--port", "70000")
    assert run.code == 1 and "--port" in run.err


def test_dashboard_on_a_port_already_in_use_says_to_pick_another_port(env: SimHome) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = env.cli("dashboard", "--no-open", "--port", str(taken.getsockname()[1]))
    assert run.code == 1 and "in use" in run.err and "--port 0" in run.err


def test_dashboard_on_an_address_not_of_this_machine_says_to_check_the_host(env: SimHome) -> None:
    for host in ("203.0.113.7", "no-such-host.invalid"):
        run = env.cli("dashboard", "--no-open", "--host", host)
        assert run.code == 1 and f"--host {host}" in run.err and "--port" not in run.err
