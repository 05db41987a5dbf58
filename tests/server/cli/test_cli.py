"""Every verb of `provider-router` against a temporary home and the simulator: output, --json and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.cli import main
from tests.clock import FixedClock
from tests.harness import SIM_KEY
from tests.memory_keyring import MemoryKeyring
from tests.server.test_cli_support import SimHome, sim_home


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    with sim_home(tmp_path, monkeypatch, capsys) as home:
        yield home


# --------------------------------------------------------------------------------------------------- usage


def test_no_verb_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], clock=FixedClock()) == 2
    assert "provider-router demo" in capsys.readouterr().err


def test_help_names_every_verb_of_the_interface(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], clock=FixedClock()) == 0
    out = capsys.readouterr().out
    verbs = "serve status list quota log prefer budget switch reset keys setup config monitor doctor demo install ask"
    for verb in verbs.split():
        assert f"\n    {verb} " in out or f"\n    {verb}\n" in out, verb


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"], clock=FixedClock()) == 2
    assert main(["budget", "cheapest"], clock=FixedClock()) == 2
    assert main(["prefer", "--task", "coding", "--quality", "max_speed", "zai"], clock=FixedClock()) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_importing_the_cli_loads_neither_rich_nor_the_tokenizer_nor_the_mcp_sdk() -> None:
    heavy = "('rich', 'tiktoken', 'mcp', 'genai_prices')"
    code = f"import sys, server.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_serve_runs_the_mcp_servers_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fake = types.ModuleType("server.mcp.serve")
    fake.run_serve = lambda: calls.append("served") or 0  # type: ignore[attr-defined,func-returns-value]
    monkeypatch.setitem(sys.modules, "server.mcp.serve", fake)
    assert main(["serve"], clock=FixedClock()) == 0
    assert calls == ["served"]


# --------------------------------------------------------------------------------------------------- ask and views


def test_ask_prints_the_answer_and_a_route_note(env: SimHome) -> None:
    run = env.cli("ask", "Fix this Python function", "--task", "coding")
    assert run.code == 0
    assert run.out.startswith("openai (gpt-5.2) answers")
    assert "openai/gpt-5.2 @ openai · preference" in run.err


def test_ask_json_is_the_route_result(env: SimHome) -> None:
    run = env.cli("ask", "Summarize this line", "--task", "simple", "--json")
    result = run.json()
    assert (result["provider"], result["account"], result["reason"]) == ("google", "google-1", "preference")
    assert result["attempts"][0]["outcome"] == "success"


def test_ask_dry_run_calls_nothing(env: SimHome) -> None:
    run = env.cli("ask", "Fix this", "--task", "coding", "--dry-run", "--json")
    assert run.json()["provider"] == "openai"
    assert env.sim.stats("openai").requests == 0


def test_ask_file_sends_a_file_of_the_current_directory_and_refuses_a_secret(
    env: SimHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.md").write_text("MARKER_NOTES\n")
    (tmp_path / "work" / ".env").write_text("TOKEN=x\n")
    monkeypatch.chdir(tmp_path / "work")
    run = env.cli("ask", "Summarize the notes", "--task", "simple", "--file", "notes.md", "--json")
    assert run.code == 0
    assert any("MARKER_NOTES" in json.dumps(r.body) for r in env.sim.requests("google-1"))
    assert [file["path"] for file in run.json()["files"]] == ["notes.md"]
    refused = env.cli("ask", "Summarize", "--file", ".env")
    assert refused.code == 1 and "looks like a secret" in refused.err


def test_status_shows_the_current_provider_the_table_and_the_decisions(env: SimHome) -> None:
    env.sim.script("openai", ["rate_limited"])
    env.cli("ask", "Fix this Python function", "--task", "coding")
    run = env.cli("status")
    assert run.code == 0
    assert "Current Provider: Anthropic (claude-sonnet-4-6)" in run.out
    assert "Context: " in run.out
    assert "Google #3" in run.out and "100% left (20/20 requests/day)" in run.out
    assert "OpenAI → Anthropic (failover: rate_limited" in run.out
    assert "\x1b[" not in run.out  # no colour in a pipe


def test_status_json_is_the_provider_status_report_with_the_current_provider(env: SimHome) -> None:
    env.cli("ask", "Summarize this", "--task", "simple")
    data = env.cli("status", "--json").json()
    assert data["ready"] is True
    assert [p["id"] for p in data["providers"]] == ["zai", "kimi", "google", "openai", "anthropic"]
    assert data["current"]["provider"] == "google" and data["current"]["account"] == "google-1"
    one = env.cli("status", "--provider", "google", "--json").json()
    assert [p["id"] for p in one["providers"]] == ["google"]
    assert env.cli("status", "--provider", "nope").code == 1


def test_list_quota_and_log_print_tables_and_json(env: SimHome) -> None:
    env.cli("ask", "Summarize this", "--task", "simple")
    assert "gemini-3.5-flash-lite" in env.cli("list").out
    listed = env.cli("list", "--json").json()
    assert {p["id"] for p in listed["providers"]} >= {"google", "zai"}
    quota = env.cli("quota", "--json").json()
    google = next(p for p in quota["providers"] if p["id"] == "google")
    assert google["accounts"][0]["requests_used"] == 1 and google["accounts"][0]["requests_limit"] == 20
    assert "google · google-1" in env.cli("quota").out
    assert env.cli("quota", "--period", "month", "--json").json()["period"] == "month"
    log = env.cli("log", "--json").json()
    assert log["decisions"][0]["provider"] == "google"
    decision = log["decisions"][0]["id"]
    assert env.cli("log", "--id", str(decision), "--json").json()["id"] == decision
    assert "Decision #" in env.cli("log", "--id", str(decision)).out
    missing = env.cli("log", "--id", "9999")
    assert missing.code == 1 and "provider-router log" in missing.err


def test_monitor_once_draws_the_dashboard(env: SimHome) -> None:
    run = env.cli("monitor", "--once")
    assert run.code == 0
    assert "Provider Router Status" in run.out and "Current Provider: none yet" in run.out


# --------------------------------------------------------------------------------------------------- changes


def test_prefer_writes_the_order_keeps_a_backup_and_routes_by_it(env: SimHome) -> None:
    run = env.cli("prefer", "--task", "coding", "zai", "kimi", "--json")
    assert run.code == 0
    assert run.json()["task_preferences"]["coding"] == ["zai", "kimi"]
    assert list(env.home.glob("providers.json.bak-*"))
    assert env.cli("ask", "Fix this function", "--task", "coding", "--json").json()["provider"] == "zai"
    assert "default: zai" in env.cli("prefer", "zai").out
    assert env.cli("prefer", "zai", "kimi").code == 1  # the default is one provider


def test_prefer_refuses_a_provider_that_is_not_configured_as_set_preference_does(env: SimHome) -> None:
    run = env.cli("prefer", "--quality", "max_speed", "groq")
    assert run.code == 1 and "groq" in run.err and "zai" in run.err  # the configured ones are named
    assert not list(env.home.glob("providers.json.bak-*"))  # nothing written


def test_prefer_resolves_an_alias_as_set_preference_does(env: SimHome) -> None:
    run = env.cli("prefer", "--task", "coding", "moonshot", "zai", "--json")
    assert run.code == 0 and run.json()["task_preferences"]["coding"] == ["kimi", "zai"]


def test_budget_sets_the_mode(env: SimHome) -> None:
    assert env.cli("budget", "free_only", "--json").json()["budget_mode"] == "free_only"
    assert env.cli("ask", "Fix this function", "--task", "coding", "--json").json()["provider"] == "google"


def test_switch_pins_every_request_and_auto_undoes_it(env: SimHome) -> None:
    assert env.cli("switch", "kimi", "--json").json() == {
        "provider": "kimi",
        "model": None,
        "conversation_id": None,
        "scope": "global",
    }
    result = env.cli("ask", "Fix this function", "--task", "coding", "--json").json()
    assert (result["provider"], result["reason"]) == ("kimi", "manual")
    assert "manual switch" in env.cli("status").out
    assert "automatic routing" in env.cli("switch", "auto").out
    assert env.cli("ask", "Fix this function", "--task", "coding", "--json").json()["provider"] == "openai"
    switches = env.cli("log", "--json").json()["switches"]
    assert [s["to_provider"] for s in switches][:2] == [None, "kimi"]


def test_switch_to_an_unknown_provider_names_the_fix(env: SimHome) -> None:
    run = env.cli("switch", "nope")
    assert run.code == 1 and "provider-router list" in run.err
    assert env.cli("switch", "zai", "--model", "gpt-9").code == 1


def test_reset_clears_the_switch_and_the_cooldowns(env: SimHome) -> None:
    env.sim.script("openai", ["rate_limited"])
    env.cli("ask", "Fix this function", "--task", "coding")
    env.cli("switch", "zai")
    data = env.cli("reset", "--json").json()
    assert data["switch_cleared"] is True and data["accounts_reset"] >= 1
    assert env.cli("ask", "Fix this function", "--task", "coding", "--json").json()["provider"] == "openai"


def test_config_path_show_validate_and_set(env: SimHome) -> None:
    paths = env.cli("config", "path", "--json").json()
    assert paths["config"] == str(env.home / "providers.json")
    shown = env.cli("config", "show", "--json")
    assert SIM_KEY not in shown.out and "env:SIM_KEY" in shown.out
    assert env.cli("config", "validate", "--json").json()["valid"] is True
    assert "is valid: 5 provider(s), 7 account(s)" in env.cli("config", "validate").out
    assert env.cli("config", "set", "provider.switch_on_limit", "false").code == 0
    assert env.cli("config", "show", "--json").json()["preferences"]["switch_on_limit"] is False
    before = (env.home / "providers.json").read_text()
    bad = env.cli("config", "set", "preferences.budgetMode", "cheapest")
    assert bad.code == 1 and "not changed" in bad.err and "Traceback" not in bad.err
    assert (env.home / "providers.json").read_text() == before
    assert env.cli("config", "set", "colour", "blue").code == 1


def test_a_broken_config_is_one_line_naming_the_fix_never_a_traceback(env: SimHome) -> None:
    (env.home / "providers.json").write_text('{"providers": {"zai": {"apiKey": 12}}')
    for argv in (("ask", "hi"), ("config", "validate"), ("config", "show")):
        run = env.cli(*argv)
        assert run.code == 1, argv
        assert "Fix:" in run.err and "Traceback" not in run.err
    assert env.cli("config", "validate", "--json").json()["valid"] is False


def test_no_configuration_points_at_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path / "empty"))
    assert main(["ask", "hello"], clock=FixedClock()) == 1
    assert "provider-router setup" in capsys.readouterr().err
    assert main(["status"], clock=FixedClock()) == 1
    assert "provider-router setup" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------------- keys


def test_keys_set_stores_a_piped_key_in_the_keychain_and_list_never_shows_it(
    env: SimHome, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("sk-test-secret-123\n"))
    run = env.cli("keys", "set", "google", "--account", "google-2")
    assert run.code == 0 and "sk-test" not in run.out + run.err
    assert memory_keyring.entries[("provider-router", "google-2")] == "sk-test-secret-123"
    listed = env.cli("keys", "list", "--json")
    assert "sk-test" not in listed.out
    accounts = {a["account"]: a for a in listed.json()["accounts"]}
    assert accounts["google-2"]["source"] == "env"  # providers.json says ${SIM_KEY} for it
    assert "environment variable SIM_KEY" in env.cli("keys", "list").out
    assert env.cli("keys", "delete", "google", "--account", "google-2").code == 0
    assert env.cli("keys", "delete", "google", "--account", "google-2").code == 1


def test_keys_list_narrows_to_one_provider_or_account(env: SimHome) -> None:
    google = env.cli("keys", "list", "google", "--json").json()["accounts"]
    assert {a["account"] for a in google} == {"google-1", "google-2", "google-3"}
    one = env.cli("keys", "list", "google", "--account", "google-2", "--json").json()["accounts"]
    assert [a["account"] for a in one] == ["google-2"]
    unknown = env.cli("keys", "list", "nosuch")
    assert unknown.code == 1 and "provider-router list" in unknown.err


def test_keys_set_needs_the_account_of_a_pool(env: SimHome) -> None:
    run = env.cli("keys", "set", "google")
    assert run.code == 1 and "--account" in run.err


# --------------------------------------------------------------------------------------------------- doctor, install


def test_doctor_verifies_each_provider_against_the_simulator(env: SimHome) -> None:
    run = env.cli("doctor", "--json")
    report = run.json()
    providers = [c for c in report["checks"] if c["area"] == "providers"]
    assert len(providers) == 7 and all(c["level"] == "ok" for c in providers)
    # no "models" area: the line-up's models never retire (tests/server/config/test_lifecycle.py has those)
    assert {c["area"] for c in report["checks"]} == {"config", "keychain", "database", "providers", "clock", "install"}
    assert run.code == (1 if report["problems"] else 0)
    assert "fix:" in env.cli("doctor", "--offline").out or report["problems"] == 0


def test_doctor_reports_a_rejected_key_with_its_fix(env: SimHome) -> None:
    env.sim.script("openai", ["auth"])
    report = env.cli("doctor", "--json").json()
    openai = next(c for c in report["checks"] if c["name"] == "openai/openai")
    assert openai["level"] == "problem" and "keys set openai" in openai["fix"]
    assert report["problems"] >= 1


def test_doctor_names_a_key_no_header_can_carry_and_the_variable(env: SimHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_KEY", "sim-kéy-0123456789")
    report = env.cli("doctor", "--json").json()
    openai = next(c for c in report["checks"] if c["name"] == "openai/openai")
    assert openai["level"] == "problem" and "SIM_KEY" in openai["detail"] and "non-ASCII" in openai["detail"]
    assert "0123456789" not in json.dumps(report)


def test_doctor_without_a_configuration_says_run_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path / "fresh"))
    assert main(["doctor", "--offline"], clock=FixedClock()) == 1
    assert "provider-router setup" in capsys.readouterr().out


def test_install_dry_run_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["install", "cursor", "--scope", "project", "--dry-run"], clock=FixedClock()) == 0
    assert "dry run" in capsys.readouterr().out
    assert not (tmp_path / ".cursor").exists()
    assert main(["install", "cursor", "--scope", "project", "--instructions"], clock=FixedClock()) == 0
    assert json.loads((tmp_path / ".cursor" / "mcp.json").read_text())["mcpServers"]["provider-router"]
