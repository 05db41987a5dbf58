"""`provider-router install CLIENT --url URL [--token TOKEN]`: the HTTP form of each client's entry for a team router,
written over (and replacing) the stdio form, and back."""

from __future__ import annotations

import io
import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from server.cli.install import run_install

COMMAND = ["/opt/pr/bin/provider-router", "serve"]
NOW = datetime(2026, 11, 28, 12, 0, 0)
URL = "https://router.team.example/mcp"
TOKEN = "prt_member-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# client -> (user file on linux, servers key, the HTTP entry written with a token)
HTTP_FORMS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "claude-code": (".claude.json", "mcpServers", {"type": "http", "url": URL, "headers": AUTH}),
    "cursor": (".cursor/mcp.json", "mcpServers", {"url": URL, "headers": AUTH}),
    "vscode": (".config/Code/User/mcp.json", "servers", {"type": "http", "url": URL, "headers": AUTH}),
    "windsurf": (".codeium/windsurf/mcp_config.json", "mcpServers", {"serverUrl": URL, "headers": AUTH}),
    "codex": (".codex/config.toml", "mcp_servers", {"url": URL, "http_headers": AUTH}),
    "gemini-cli": (".gemini/settings.json", "mcpServers", {"httpUrl": URL, "headers": AUTH}),
    "zed": (".config/zed/settings.json", "context_servers", {"url": URL, "headers": AUTH}),
    "claude-desktop": (
        ".config/Claude/claude_desktop_config.json",
        "mcpServers",
        {
            "command": "npx",
            "args": ["-y", "mcp-remote", URL, "--header", "Authorization:${PROVIDER_ROUTER_AUTH}"],
            "env": {"PROVIDER_ROUTER_AUTH": f"Bearer {TOKEN}"},
        },
    ),
}


def install(home: Path, client: str, **options: Any) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {"HOME": str(home), "CODEX_HOME": str(home / ".codex"), "XDG_CONFIG_HOME": str(home / ".config")}
    status = run_install(
        client, scope="user", dry_run=False, home=home, cwd=home, command=COMMAND, platform="linux", out=out,
        err=err, env=env, now=NOW, **options,
    )  # fmt: skip
    return status, err.getvalue()


def entry(home: Path, client: str) -> dict[str, Any]:
    name, key, _ = HTTP_FORMS[client]
    text = (home / name).read_text()
    document = tomllib.loads(text) if name.endswith(".toml") else json.loads(text)
    found: dict[str, Any] = document[key]["provider-router"]
    return found


@pytest.mark.parametrize("client", sorted(HTTP_FORMS))
def test_the_http_form_with_a_token_replaces_the_stdio_entry_and_keeps_the_user_s_members(
    tmp_path: Path, client: str
) -> None:
    assert install(tmp_path, client) == (0, "")
    name, key, expected = HTTP_FORMS[client]
    if not name.endswith(".toml"):  # a member the user added to our entry stays
        path = tmp_path / name
        document = json.loads(path.read_text())
        document[key]["provider-router"]["disabled"] = False
        path.write_text(json.dumps(document))
        expected = {**expected, "disabled": False}
    assert install(tmp_path, client, url=URL, token=TOKEN) == (0, "")
    assert entry(tmp_path, client) == expected


@pytest.mark.parametrize("client", ["claude-code", "codex"])
def test_without_a_token_the_http_form_carries_no_authorization(tmp_path: Path, client: str) -> None:
    assert install(tmp_path, client, url="http://127.0.0.1:8765/mcp") == (0, "")
    written = entry(tmp_path, client)
    assert "headers" not in written and "http_headers" not in written
    assert "http://127.0.0.1:8765/mcp" in json.dumps(written)


def test_installing_the_stdio_form_again_drops_the_url_and_the_token(tmp_path: Path) -> None:
    assert install(tmp_path, "cursor", url=URL, token=TOKEN) == (0, "")
    assert install(tmp_path, "cursor") == (0, "")
    assert entry(tmp_path, "cursor") == {
        "command": COMMAND[0],
        "args": ["serve"],
        "env": {"XDG_CONFIG_HOME": str(tmp_path / ".config")},
    }
    assert TOKEN not in (tmp_path / ".cursor/mcp.json").read_text()


def test_a_url_that_is_not_http_is_refused_with_the_fix_and_nothing_is_written(tmp_path: Path) -> None:
    status, message = install(tmp_path, "cursor", url="router.example:8765")
    assert status == 1 and "https://host/mcp" in message
    assert not (tmp_path / ".cursor/mcp.json").exists()
