"""`provider-router setup`: interactive (answers on stdin) and `--yes`, keys to the keychain, verification against
the simulator, re-runs that keep the old file as a backup and never lose a provider."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.simulator import Simulator
from server.cli import main
from tests.clock import FixedClock
from tests.harness import SIM_KEY
from tests.memory_keyring import MemoryKeyring
from tests.server.test_cli_support import running_seed_sim


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no agent on PATH
    with running_seed_sim() as simulator:
        monkeypatch.setenv("PROVIDER_ROUTER_SETUP_BASE_URL", simulator.url)
        yield simulator


def _answers(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def _config(tmp_path: Path) -> Any:
    return json.loads((tmp_path / "home" / "providers.json").read_text())


def test_interactive_setup_stores_keys_in_the_keychain_writes_references_and_verifies(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    memory_keyring: MemoryKeyring,
) -> None:
    # providers; google: 3 accounts and their keys; zai: 1 account and its key; default; budget mode; daily cap
    _answers(monkeypatch, "google,zai", "3", SIM_KEY, SIM_KEY, SIM_KEY, "1", SIM_KEY, "zai", "cost_first", "2.5")
    assert main(["setup", "--no-install"], clock=FixedClock()) == 0
    out = capsys.readouterr().out
    assert SIM_KEY not in out
    assert out.count("✓") == 4 and "Wrote" in out
    assert memory_keyring.entries[("provider-router", "google-2")] == SIM_KEY
    config = _config(tmp_path)
    assert SIM_KEY not in json.dumps(config)
    google = config["providers"]["google"]
    assert [a["apiKey"] for a in google["accounts"]] == ["keyring:google-1", "keyring:google-2", "keyring:google-3"]
    assert config["preferences"] == {
        "default": "zai",
        "budgetMode": "cost_first",
        "budgetUsd": {"daily": 2.5},
        "autoSwitch": True,
        "switchOnLimit": True,
    }
    assert sim.stats("google-3").requests == 1  # one tiny verification request per key


def test_setup_yes_takes_the_flags_and_keys_from_the_environment(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SIM_KEY)
    assert (
        main(
            ["setup", "--yes", "--providers", "openai", "--budget-mode", "free_only", "--no-install"],
            clock=FixedClock(),
        )
        == 0
    )
    config = _config(tmp_path)
    assert config["providers"] == {"openai": {"apiKey": "${OPENAI_API_KEY}", "baseUrl": sim.base_url("openai")}}
    assert "✓ openai/openai: reachable, key accepted" in capsys.readouterr().out


def test_a_missing_key_fails_verification_with_the_fix(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["setup", "--yes", "--providers", "anthropic", "--no-install"], clock=FixedClock()) == 1
    assert "keys set anthropic" in capsys.readouterr().out


def test_a_rerun_keeps_a_backup_the_old_values_and_disables_what_was_left_out(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ZAI_API_KEY", SIM_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", SIM_KEY)
    assert (
        main(["setup", "--yes", "--providers", "zai,openai", "--daily-budget", "3", "--no-install"], clock=FixedClock())
        == 0
    )
    home = tmp_path / "home"
    first = (home / "providers.json").read_text()
    # now only zai; Enter keeps every other answer (the default provider zai, the mode, the cap)
    _answers(monkeypatch, "zai", "", "", "", "", "")
    assert main(["setup", "--no-install", "--no-verify"], clock=FixedClock()) == 0
    config = _config(tmp_path)
    assert config["providers"]["openai"]["enabled"] is False
    assert config["providers"]["zai"]["apiKey"] == "${ZAI_API_KEY}"
    assert config["preferences"]["budgetUsd"] == {"daily": 3.0}
    backups = list(home.glob("providers.json.bak-*"))
    assert [b.read_text() for b in backups] == [first]
    assert "kept as" in capsys.readouterr().out


def test_setup_stopped_midway_writes_nothing(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answers(monkeypatch, "google")
    assert main(["setup", "--no-install"], clock=FixedClock()) == 1
    assert "nothing was written" in capsys.readouterr().err
    assert not (tmp_path / "home" / "providers.json").exists()


def test_an_unknown_provider_is_refused_with_the_choices(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["setup", "--yes", "--providers", "acme", "--no-install"], clock=FixedClock()) == 1
    assert "choose from google" in capsys.readouterr().err


def test_setup_offers_install_for_the_agents_it_finds(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".cursor").mkdir()
    monkeypatch.setenv("OPENAI_API_KEY", SIM_KEY)
    _answers(monkeypatch, "openai", "", "", "", "", "", "y")
    assert main(["setup", "--no-verify"], clock=FixedClock()) == 0
    out = capsys.readouterr().out
    assert "Agents found on this machine: cursor" in out
    entry = json.loads((tmp_path / ".cursor" / "mcp.json").read_text())["mcpServers"]["provider-router"]
    assert entry["args"][-1] == "serve"
