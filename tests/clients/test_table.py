"""Where each client reads its MCP servers, per platform and scope, and the shape of its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.table import client_ids, expand, load_clients, template_values

HOME = Path("/h")
CWD = Path("/p")

USER_FILES = {
    "claude-code": {"linux": ".claude.json", "darwin": ".claude.json", "win32": ".claude.json"},
    "claude-desktop": {
        "linux": ".config/Claude/claude_desktop_config.json",
        "darwin": "Library/Application Support/Claude/claude_desktop_config.json",
        "win32": "AppData/Roaming/Claude/claude_desktop_config.json",
    },
    "cursor": {"linux": ".cursor/mcp.json", "darwin": ".cursor/mcp.json", "win32": ".cursor/mcp.json"},
    "vscode": {
        "linux": ".config/Code/User/mcp.json",
        "darwin": "Library/Application Support/Code/User/mcp.json",
        "win32": "AppData/Roaming/Code/User/mcp.json",
    },
    "windsurf": {
        "linux": ".codeium/windsurf/mcp_config.json",
        "darwin": ".codeium/windsurf/mcp_config.json",
        "win32": ".codeium/windsurf/mcp_config.json",
    },
    "codex": {"linux": ".codex/config.toml", "darwin": ".codex/config.toml", "win32": ".codex/config.toml"},
    "gemini-cli": {
        "linux": ".gemini/settings.json",
        "darwin": ".gemini/settings.json",
        "win32": ".gemini/settings.json",
    },
    "zed": {
        "linux": ".config/zed/settings.json",
        "darwin": ".config/zed/settings.json",
        "win32": "AppData/Roaming/Zed/settings.json",
    },
}
PROJECT_FILES = {
    "claude-code": ".mcp.json",
    "claude-desktop": None,
    "cursor": ".cursor/mcp.json",
    "vscode": ".vscode/mcp.json",
    "windsurf": None,
    "codex": ".codex/config.toml",
    "gemini-cli": ".gemini/settings.json",
    "zed": ".zed/settings.json",
}


def resolve(client: str, scope: str, platform: str, env: dict[str, str] | None = None) -> Path | None:
    spec = load_clients()[client]
    template = spec.path_template("user" if scope == "user" else "project", platform)
    values = template_values(platform=platform, home=HOME, cwd=CWD, env=env or {})
    return None if template is None else expand(template, values)


def test_the_table_lists_the_eight_clients_of_the_interface() -> None:
    assert client_ids() == tuple(USER_FILES)


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
@pytest.mark.parametrize("client", list(USER_FILES))
def test_each_client_user_file_is_where_that_client_reads_it(client: str, platform: str) -> None:
    assert resolve(client, "user", platform) == HOME / USER_FILES[client][platform]


@pytest.mark.parametrize("client", list(PROJECT_FILES))
def test_each_client_project_file_is_in_the_current_directory(client: str) -> None:
    expected = PROJECT_FILES[client]
    assert resolve(client, "project", "linux") == (None if expected is None else CWD / expected)


def test_clients_without_a_project_file_say_why() -> None:
    for client, expected in PROJECT_FILES.items():
        assert (expected is None) == bool(load_clients()[client].project_unsupported), client


def test_the_variables_the_clients_honour_move_their_files() -> None:
    env = {"CODEX_HOME": "/c", "XDG_CONFIG_HOME": "/x", "APPDATA": "/a", "CLAUDE_CONFIG_DIR": "/cc"}
    assert resolve("codex", "user", "linux", env) == Path("/c/config.toml")
    assert resolve("zed", "user", "linux", env) == Path("/x/zed/settings.json")
    assert resolve("vscode", "user", "linux", env) == Path("/x/Code/User/mcp.json")
    assert resolve("zed", "user", "darwin", env) == HOME / ".config/zed/settings.json"
    assert resolve("vscode", "user", "win32", env) == Path("/a/Code/User/mcp.json")
    assert resolve("claude-code", "user", "linux", env) == Path("/cc/.claude.json")


def test_an_unknown_platform_uses_the_linux_like_default() -> None:
    assert resolve("vscode", "user", "freebsd") == HOME / ".config/Code/User/mcp.json"


@pytest.mark.parametrize(
    ("client", "extra"),
    [
        ("claude-code", {"type": "stdio"}),
        ("vscode", {"type": "stdio"}),
        ("zed", {"source": "custom"}),
        ("cursor", {}),
        ("claude-desktop", {}),
    ],
)
def test_entries_carry_the_fixed_members_their_client_expects(client: str, extra: dict[str, str]) -> None:
    entry = load_clients()[client].entry(["/bin/pr", "serve"], {})
    assert entry == {**extra, "command": "/bin/pr", "args": ["serve"], "env": {}}


def test_a_toml_entry_has_no_empty_env_table() -> None:
    codex = load_clients()["codex"]
    assert codex.entry(["/bin/pr", "serve"], {}) == {"command": "/bin/pr", "args": ["serve"]}
    assert codex.entry(["/bin/pr"], {"A": "1"})["env"] == {"A": "1"}


def test_a_template_must_start_with_a_placeholder() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        expand("/etc/x", {})
