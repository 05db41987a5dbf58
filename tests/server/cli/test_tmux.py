"""A terminal session as a user sees it: `setup` answered at its prompts in tmux, then `ask`, `status`, `quota`,
`log` and `monitor` read off the screen. The providers are a simulator in another process; keys go to a file
keychain shared by the session's processes (tests.server.test_cli_support.FileKeyring)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from tests.clock import moved_clock_environ
from tests.harness import SIM_KEY

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"),
]

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Terminal:
    socket: Path
    env: dict[str, str]
    commands: int = 0

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-300")

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", line)
        self.tmux("send-keys", "-t", "t", "Enter")

    async def wait_for(self, text: str, timeout: float = 20) -> str:
        """The screen once it shows `text` (polled; bounded by `timeout`)."""
        with anyio.fail_after(timeout):
            while text not in (screen := self.screen()):
                await anyio.sleep(0.05)
        return screen

    async def answer(self, prompt: str, reply: str) -> None:
        await self.wait_for(prompt)
        self.type(reply)

    async def run(self, command: str) -> str:
        """Clear the screen and its history, run `command`, return what it printed."""
        self.commands += 1
        done = f"echo done-$((1000+{self.commands}))"  # the screen shows done-100N only once it has finished
        self.type("clear")
        self.tmux("clear-history", "-t", "t")
        self.type(f"{command}; {done}")
        screen = await self.wait_for(f"done-{1000 + self.commands}")
        return screen.split(done, 1)[-1]


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    accounts = [
        {"id": "google-1", "kind": "gemini", "api_key": SIM_KEY},
        {"id": "google-2", "kind": "gemini", "api_key": SIM_KEY},
        {"id": "zai", "kind": "openai", "flavour": "zai", "api_key": SIM_KEY},
    ]
    spec = tmp_path / "sim.json"
    spec.write_text(json.dumps({"accounts": accounts}))
    process = subprocess.Popen(
        [sys.executable, "-m", "providers.simulator", "--spec", str(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("READY "), ready
        yield ready.split()[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def terminal(tmp_path: Path, simulator: str) -> Iterator[Terminal]:
    bin_dir = Path(sys.executable).parent
    env = {
        "HOME": str(tmp_path),
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PROVIDER_ROUTER_HOME": str(tmp_path / "router"),
        "PROVIDER_ROUTER_SETUP_BASE_URL": simulator,
        "PYTHON_KEYRING_BACKEND": "tests.server.test_cli_support.FileKeyring",
        "FILE_KEYRING": str(tmp_path / "keyring.json"),
        "TMUX_TMPDIR": str(tmp_path),
        **moved_clock_environ(),
    }
    term = Terminal(tmp_path / "tmux.sock", env)
    term.tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "50", "bash --norc --noprofile")
    try:
        yield term
    finally:
        subprocess.run(["tmux", "-S", str(term.socket), "kill-server"], env=env, capture_output=True, timeout=10)


async def test_setup_at_its_prompts_then_the_dashboards_on_screen(terminal: Terminal, tmp_path: Path) -> None:
    terminal.type("provider-router setup --no-install")
    await terminal.answer("Which providers?", "google,zai")
    await terminal.answer("Google: how many accounts", "2")
    await terminal.answer("API key for google-1", SIM_KEY)
    await terminal.answer("API key for google-2", SIM_KEY)
    await terminal.answer("Z.AI: how many accounts", "")
    await terminal.answer("API key for zai", SIM_KEY)
    await terminal.answer("Default provider [google]", "")
    await terminal.answer("Budget mode [quality_first]", "cost_first")
    await terminal.answer("Daily spend cap in USD", "1")
    screen = await terminal.wait_for("Next: provider-router status")
    assert SIM_KEY not in screen  # keys are never echoed
    assert "✓ google/google-2: reachable, key accepted" in screen and "✓ zai/zai" in screen
    assert SIM_KEY not in (tmp_path / "router" / "providers.json").read_text()

    answer = await terminal.run("provider-router ask 'Summarize this line' --task simple")
    assert "— google/" in answer and "@ google-1" in answer

    status = await terminal.run("provider-router status")
    assert "Current Provider: Google #1" in status
    assert "Google #2" in status and "Z.AI" in status and "✓ active" in status
    assert "Budget mode: cost_first" in status and "Routing decisions" in status

    quota = await terminal.run("provider-router quota")
    assert "google · google-1" in quota and "Forecast" in quota

    log = await terminal.run("provider-router log")
    assert "Routing decisions (latest first)" in log and "simple" in log

    monitor = await terminal.run("provider-router monitor --once")
    assert "Provider Router Status" in monitor and "Google #1" in monitor

    # the screen shows started-1001 only once `clear` has run, so the old `--once` output cannot be mistaken for it
    terminal.type("clear; echo started-$((1000+1)); provider-router monitor --interval 0.2")
    await terminal.wait_for("started-1001")
    await terminal.wait_for("Latency p50")
    terminal.tmux("send-keys", "-t", "t", "C-c")
    terminal.type("echo rc-$?")
    await terminal.wait_for("rc-0")
    assert os.path.exists(tmp_path / "router" / "router.db")


async def test_setup_in_a_terminal_with_no_keychain_writes_variable_references_that_work(
    terminal: Terminal, tmp_path: Path
) -> None:
    await terminal.run("export PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring")  # headless: no keychain
    terminal.type("clear; provider-router setup --no-install")
    await terminal.answer("Use environment variables for the keys?", "")
    await terminal.answer("Which providers?", "google,zai")
    await terminal.answer("Google: how many accounts", "2")
    await terminal.answer("Z.AI: how many accounts", "")
    await terminal.answer("Default provider [google]", "zai")
    await terminal.answer("Budget mode [quality_first]", "")
    await terminal.answer("Daily spend cap in USD", "")
    screen = await terminal.wait_for("Next: provider-router status")
    assert "No usable keychain here" in screen and "API key for" not in screen
    for line in ("export GOOGLE_API_KEY_1=<key>", "export GOOGLE_API_KEY_2=<key>", "export ZAI_API_KEY=<key>"):
        assert line in screen
    assert "nothing was written" not in screen
    config = json.loads((tmp_path / "router" / "providers.json").read_text())
    assert config["providers"]["zai"]["apiKey"] == "${ZAI_API_KEY}"

    answer = await terminal.run(f"export ZAI_API_KEY={SIM_KEY}; provider-router ask 'Summarize this line'")
    assert "— zai/" in answer
