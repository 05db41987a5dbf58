"""`provider-router install` over an entry the user already tuned (issue 12, item 10), run as a user runs it: the
CLI in its own process, a HOME holding Claude Desktop's and Codex's files, and no PROVIDER_ROUTER_HOME in the
shell. Install updates only what it owns (command, args, type) and keeps the rest of the entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.reliability import tally

REPO = Path(__file__).resolve().parents[2]

DESKTOP_ENTRY = {
    "command": "/old/venv/bin/provider-router",
    "args": ["serve"],
    "env": {"PROVIDER_ROUTER_HOME": "/data/router-home"},
    "disabled": False,
    "autoApprove": ["provider_status", "route_and_complete"],
}
CODEX_FILE = """# Codex settings
model = "o3"

[mcp_servers.provider-router]
command = "/old/venv/bin/provider-router"
args = ["serve"]
startup_timeout_sec = 45

[mcp_servers.provider-router.env]
PROVIDER_ROUTER_HOME = "/data/router-home"
"""


def _install(client: str, home: Path) -> subprocess.CompletedProcess[str]:
    unpinned = ("PROVIDER_ROUTER_HOME", "XDG_CONFIG_HOME", "CODEX_HOME", "APPDATA")
    env = {k: v for k, v in os.environ.items() if k not in unpinned}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "install", client],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(sys.platform != "linux", reason="the file paths below are Linux's")
def test_install_over_tuned_entries_keeps_every_setting_it_does_not_own(tmp_path: Path) -> None:
    desktop = tmp_path / ".config" / "Claude" / "claude_desktop_config.json"
    desktop.parent.mkdir(parents=True)
    desktop.write_text(json.dumps({"mcpServers": {"provider-router": DESKTOP_ENTRY}}, indent=2) + "\n")
    codex = tmp_path / ".codex" / "config.toml"
    codex.parent.mkdir()
    codex.write_text(CODEX_FILE)

    for client in ("claude-desktop", "codex"):
        result = _install(client, tmp_path)
        assert result.returncode == 0, result.stderr
    entry = json.loads(desktop.read_text())["mcpServers"]["provider-router"]
    codex_entry = tomllib.loads(codex.read_text())["mcp_servers"]["provider-router"]
    tally.record("inputs", 2, test="install over tuned entries")

    assert entry["command"] != DESKTOP_ENTRY["command"] and entry["args"][-1] == "serve"
    assert {k: entry[k] for k in ("env", "disabled", "autoApprove")} == {
        k: DESKTOP_ENTRY[k] for k in ("env", "disabled", "autoApprove")
    }
    assert codex_entry["command"] == entry["command"]
    assert codex_entry["startup_timeout_sec"] == 45
    assert codex_entry["env"] == {"PROVIDER_ROUTER_HOME": "/data/router-home"}
    assert codex.read_text().startswith('# Codex settings\nmodel = "o3"\n')
