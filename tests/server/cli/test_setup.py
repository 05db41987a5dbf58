"""`provider-router setup`: interactive (answers on stdin) and `--yes`, keys to the keychain, verification against
the simulator, re-runs that keep the old file as a backup and never lose a provider."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keyring
import pytest
from anyio.from_thread import start_blocking_portal
from keyring.backends import fail
from keyring.errors import KeyringLocked

from providers.simulator import Simulator
from server.cli import main
from server.cli.common import run_verb
from server.cli.parser import build_parser
from server.cli.setup_keys import env_variable, is_local
from server.cli.setup_wizard import run_setup
from server.config.load import load_config
from tests.clock import FixedClock
from tests.harness import SIM_KEY
from tests.local_fake import local_server
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


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class LockedKeyring(MemoryKeyring):
    """A Secret Service whose collection stays locked: every call fails (`reads`) or only storing does."""

    def __init__(self, *, reads: bool) -> None:
        super().__init__()
        self.reads = reads

    def get_password(self, service: str, username: str) -> str | None:
        if self.reads:
            raise KeyringLocked("Failed to unlock the collection!")
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


def no_keyring() -> Any:
    """keyring's own backend for "no keychain here" (headless Linux, a container): every call fails."""
    return fail.Keyring()  # type: ignore[no-untyped-call]


@pytest.fixture
def use_keyring() -> Iterator[Callable[[Any], None]]:
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def _setup(*argv: str, environ: dict[str, str] | None = None) -> int:
    """`setup` through its verb, on a fixed clock (backups are named by it)."""
    args = build_parser().parse_args(["setup", *argv])
    return run_verb(lambda parsed: run_setup(parsed, environ, clock=lambda: NOW), args, lambda: NOW)


def _references(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Each account's key reference, as the config loader reads the written file."""
    config = load_config(tmp_path / "home" / "providers.json", {}, today=NOW.date())
    return {
        account.id: (account.credential.source, account.credential.name)
        for provider in config.providers.values()
        for account in provider.accounts
    }


@pytest.mark.parametrize("backend", [no_keyring(), LockedKeyring(reads=True)], ids=["no-keyring", "locked"])
def test_without_a_keychain_setup_writes_variable_references_and_lists_the_variables(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    use_keyring: Callable[[Any], None],
    backend: Any,
) -> None:
    use_keyring(backend)
    monkeypatch.setenv("OPENAI_API_KEY", SIM_KEY)
    # use variables; providers; google: 2 accounts; openai: 1 account; default; budget mode; daily cap
    _answers(monkeypatch, "", "google,openai", "2", "1", "openai", "", "")
    assert _setup("--no-install") == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.index("No usable keychain here") < out.index("Which providers?")
    assert "API key for" not in out
    assert _references(tmp_path) == {
        "google-1": ("env", "GOOGLE_API_KEY_1"),
        "google-2": ("env", "GOOGLE_API_KEY_2"),
        "openai": ("env", "OPENAI_API_KEY"),
    }
    for line in (
        "export GOOGLE_API_KEY_1=<key>    # the key for google-1 (not set yet)",
        "export GOOGLE_API_KEY_2=<key>    # the key for google-2 (not set yet)",
        "export OPENAI_API_KEY=<key>    # the key for openai (already set in this shell)",
        "· google/google-1: not checked until its key is set",
        "✓ openai/openai: reachable, key accepted",
    ):
        assert line in out
    assert "nothing was written" not in out + captured.err
    assert SIM_KEY not in out


def test_a_keychain_that_refuses_the_typed_keys_still_writes_the_configuration_with_variables(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    use_keyring: Callable[[Any], None],
) -> None:
    use_keyring(LockedKeyring(reads=False))  # answers a read, so setup asks for the keys; storing them fails
    _answers(monkeypatch, "zai,openai", "1", SIM_KEY, "1", SIM_KEY, "zai", "", "")
    assert _setup("--no-install") == 0
    out = capsys.readouterr().out
    assert "The keychain refused the keys" in out
    assert _references(tmp_path) == {"zai": ("env", "ZAI_API_KEY"), "openai": ("env", "OPENAI_API_KEY")}
    assert "export ZAI_API_KEY=<key>" in out and "export OPENAI_API_KEY=<key>" in out
    assert SIM_KEY not in out and SIM_KEY not in (tmp_path / "home" / "providers.json").read_text()


def test_declining_variables_stops_before_any_question_and_writes_nothing(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    use_keyring: Callable[[Any], None],
) -> None:
    use_keyring(no_keyring())
    _answers(monkeypatch, "n")
    assert _setup("--no-install") == 1
    captured = capsys.readouterr()
    assert "Which providers?" not in captured.out
    assert "before any question" in captured.err and "gnome-keyring" in captured.err
    assert not (tmp_path / "home" / "providers.json").exists()


def test_setup_yes_without_a_keychain_takes_variables_without_asking(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], use_keyring: Callable[[Any], None]
) -> None:
    use_keyring(no_keyring())
    assert _setup("--yes", "--providers", "anthropic,kimi", "--no-install") == 0
    assert _references(tmp_path) == {"anthropic": ("env", "ANTHROPIC_API_KEY"), "kimi": ("env", "MOONSHOT_API_KEY")}
    assert "export MOONSHOT_API_KEY=<key>" in capsys.readouterr().out


def test_local_providers_are_not_asked_about_accounts_or_keys(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    local = {"kind": "openai", "baseUrl": "http://localhost:8080/v1", "models": {"m": {"contextWindow": 8000}}}
    (home / "providers.json").write_text(json.dumps({"providers": {"myllm": local}}))
    # providers; zai: 1 account, no key now; default; budget mode; daily cap
    _answers(monkeypatch, "ollama,lmstudio,myllm,zai", "1", "", "zai", "", "")
    assert _setup("--no-install", "--no-verify") == 0
    out = capsys.readouterr().out
    for provider in ("Ollama", "LM Studio", "myllm"):
        assert f"{provider}: runs on this machine" in out
        assert f"{provider}: how many accounts" not in out
    assert "API key for zai" in out and out.count("API key for") == 1
    config = _config(tmp_path)
    assert config["providers"]["myllm"] == local
    assert "apiKey" not in config["providers"]["ollama"]


def test_the_variable_for_a_key_is_the_vendors_own_numbered_in_a_pool() -> None:
    assert env_variable("openai") == "OPENAI_API_KEY"
    assert env_variable("moonshot", 1) == "MOONSHOT_API_KEY_2"  # an alias of kimi
    assert env_variable("my-proxy.eu") == "MY_PROXY_EU_API_KEY"


@pytest.mark.parametrize(
    ("provider", "url", "local"),
    [
        ("lmstudio", None, True),
        ("custom", "http://127.0.0.2:8000/v1", True),
        ("custom", "http://[::1]:8000/v1", True),
        ("openai", "http://localhost:4000", True),
        ("custom", "https://llm.example.com/v1", False),
        ("zai", None, False),
    ],
)
def test_a_provider_is_local_by_its_vendor_or_a_loopback_base_url(provider: str, url: str | None, local: bool) -> None:
    assert is_local(provider, {"baseUrl": url} if url else {}) is local


def test_a_typo_in_an_answer_is_asked_again_instead_of_throwing_the_answers_away(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SIM_KEY)
    # providers; 1 account; Enter uses $OPENAI_API_KEY; then a wrong and a right answer to each of the last three
    _answers(monkeypatch, "openai", "", "", "kimi", "openai", "cheapest", "cost_first", "two", "2")
    assert _setup("--no-install", "--no-verify") == 0
    out = capsys.readouterr().out
    assert "the default must be one of openai, not 'kimi'; try again" in out
    assert out.count("; try again") == 3
    preferences = _config(tmp_path)["preferences"]
    assert (preferences["default"], preferences["budgetMode"], preferences["budgetUsd"]) == (
        "openai",
        "cost_first",
        {"daily": 2.0},
    )


def test_a_running_ollama_is_offered_and_its_listed_models_written_without_key_questions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(local_server(["llama3.2"])) as url:
        monkeypatch.setenv("PROVIDER_ROUTER_OLLAMA_URL", url)
        assert _setup("--yes", "--no-install", "--no-verify") == 0
    out = capsys.readouterr().out
    assert f"Found on this machine: Ollama at {url} with 1 model(s): llama3.2" in out
    assert "API key" not in out and "how many accounts" not in out
    ollama = _config(tmp_path)["providers"]["ollama"]
    assert ollama["baseUrl"] == f"{url}/v1" and list(ollama["models"]) == ["llama3.2"]
    config = load_config(tmp_path / "home" / "providers.json", {}, today=NOW.date())
    (model,) = config.providers["ollama"].models.values()
    assert model.is_free  # a local model is a free candidate
