"""`provider-router install CLIENT`: every client, scope and platform, against files in a temporary home."""

from __future__ import annotations

import io
import json
import stat
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from clients.instructions import BEGIN
from server.cli.install import default_server_command, run_install, server_env

COMMAND = ["/opt/pr/bin/provider-router", "serve"]
NOW = datetime(2026, 11, 28, 12, 0, 0)
PLATFORMS = ("linux", "darwin", "win32")

# client -> (file format, servers key, fixed members of our entry)
SHAPES: dict[str, tuple[str, str, dict[str, str]]] = {
    "claude-code": ("json", "mcpServers", {"type": "stdio"}),
    "claude-desktop": ("json", "mcpServers", {}),
    "cursor": ("json", "mcpServers", {}),
    "vscode": ("json", "servers", {"type": "stdio"}),
    "windsurf": ("json", "mcpServers", {}),
    "codex": ("toml", "mcp_servers", {}),
    "gemini-cli": ("json", "mcpServers", {}),
    "zed": ("json", "context_servers", {"source": "custom"}),
}
USER_FILES = {
    ("claude-code", "linux"): ".claude.json",
    ("claude-desktop", "linux"): ".config/Claude/claude_desktop_config.json",
    ("claude-desktop", "darwin"): "Library/Application Support/Claude/claude_desktop_config.json",
    ("claude-desktop", "win32"): "AppData/Roaming/Claude/claude_desktop_config.json",
    ("cursor", "linux"): ".cursor/mcp.json",
    ("vscode", "linux"): ".config/Code/User/mcp.json",
    ("vscode", "darwin"): "Library/Application Support/Code/User/mcp.json",
    ("vscode", "win32"): "AppData/Roaming/Code/User/mcp.json",
    ("windsurf", "linux"): ".codeium/windsurf/mcp_config.json",
    ("codex", "linux"): ".codex/config.toml",
    ("gemini-cli", "linux"): ".gemini/settings.json",
    ("zed", "linux"): ".config/zed/settings.json",
    ("zed", "darwin"): ".config/zed/settings.json",
    ("zed", "win32"): "AppData/Roaming/Zed/settings.json",
}
PROJECT_FILES = {
    "claude-code": ".mcp.json",
    "cursor": ".cursor/mcp.json",
    "vscode": ".vscode/mcp.json",
    "codex": ".codex/config.toml",
    "gemini-cli": ".gemini/settings.json",
    "zed": ".zed/settings.json",
}
CASES = [
    (client, scope, platform)
    for client in SHAPES
    for scope in ("user", "project")
    for platform in PLATFORMS
    if scope == "user" or client in PROJECT_FILES
]


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Env:
    home: Path
    cwd: Path

    def install(self, client: str, scope: str = "user", platform: str = "linux", **kwargs: Any) -> Result:
        out, err = io.StringIO(), io.StringIO()
        options: dict[str, Any] = {"dry_run": False, "env": {}, "now": NOW, **kwargs}
        code = run_install(
            client,
            scope=scope,  # type: ignore[arg-type]
            home=self.home,
            cwd=self.cwd,
            command=COMMAND,
            platform=platform,
            out=out,
            err=err,
            **options,
        )
        return Result(code, out.getvalue(), err.getvalue())

    def path(self, client: str, scope: str, platform: str) -> Path:
        if scope == "project":
            return self.cwd / PROJECT_FILES[client]
        return self.home / USER_FILES.get((client, platform), USER_FILES[(client, "linux")])

    def snapshot(self) -> dict[str, bytes]:
        return {
            str(p.relative_to(self.home.parent)): p.read_bytes()
            for root in (self.home, self.cwd)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def env(tmp_path: Path) -> Env:
    (tmp_path / "home").mkdir()
    (tmp_path / "project").mkdir()
    return Env(tmp_path / "home", tmp_path / "project")


def read(path: Path, fmt: str) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if fmt == "toml" else dict(json.loads(text))


def our_entry(client: str, server_env: dict[str, str] | None = None) -> dict[str, Any]:
    fmt, _, extra = SHAPES[client]
    entry: dict[str, Any] = {**extra, "command": COMMAND[0], "args": COMMAND[1:]}
    if fmt == "json" or server_env:
        entry["env"] = server_env or {}
    return entry


def existing_file(client: str) -> str:
    """A config the user already has: settings of their own, another server, and an old entry of ours."""
    fmt, key, _ = SHAPES[client]
    if fmt == "toml":
        return (
            '# my settings\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "other-server"\nargs = ["--x"]\n\n'
            '[mcp_servers.provider-router]\ncommand = "/old/provider-router"\nargs = []\n\n'
            '[profiles.fast]\nmodel = "o4-mini"\n'
        )
    document = {
        "theme": "dark",
        key: {"other": {"command": "other-server", "args": ["--x"]}, "provider-router": {"command": "/old"}},
        "zzz": [1, 2],
    }
    return json.dumps(document, indent=2) + "\n"


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"))


@pytest.mark.parametrize(("client", "scope", "platform"), CASES)
def test_a_fresh_file_holds_exactly_our_server(env: Env, client: str, scope: str, platform: str) -> None:
    result = env.install(client, scope, platform)
    path = env.path(client, scope, platform)
    assert result.code == 0, result.err
    fmt, key, _ = SHAPES[client]
    assert read(path, fmt) == {key: {"provider-router": our_entry(client)}}
    assert str(path) in result.out
    assert backups(path) == []


@pytest.mark.parametrize(("client", "scope", "platform"), CASES)
def test_an_existing_file_keeps_everything_but_our_entry(env: Env, client: str, scope: str, platform: str) -> None:
    path = env.path(client, scope, platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    original = existing_file(client)
    path.write_text(original, encoding="utf-8")
    result = env.install(client, scope, platform)
    assert result.code == 0, result.err
    fmt, key, _ = SHAPES[client]
    data = read(path, fmt)
    before = read_text_as(original, fmt)
    assert list(data) == list(before)
    assert data[key] == {**before[key], "provider-router": our_entry(client)}
    assert list(data[key]) == ["other", "provider-router"]
    assert {k: v for k, v in data.items() if k != key} == {k: v for k, v in before.items() if k != key}
    [backup] = backups(path)
    assert backup.name == f"{path.name}.bak-20261128-120000"
    assert backup.read_text(encoding="utf-8") == original
    assert str(backup) in result.out


def read_text_as(text: str, fmt: str) -> dict[str, Any]:
    return tomllib.loads(text) if fmt == "toml" else dict(json.loads(text))


@pytest.mark.parametrize(("client", "scope", "platform"), CASES)
def test_installing_twice_changes_nothing_the_second_time(env: Env, client: str, scope: str, platform: str) -> None:
    path = env.path(client, scope, platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(existing_file(client), encoding="utf-8")
    assert env.install(client, scope, platform).code == 0
    after_first = env.snapshot()
    second = env.install(client, scope, platform, now=datetime(2026, 11, 29))
    assert second.code == 0
    assert "nothing changed" in second.out
    assert env.snapshot() == after_first
    assert len(backups(path)) == 1


@pytest.mark.parametrize(("client", "scope", "platform"), CASES)
def test_a_malformed_file_is_refused_and_left_untouched(env: Env, client: str, scope: str, platform: str) -> None:
    path = env.path(client, scope, platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = "[mcp_servers.x\ncommand = \n" if SHAPES[client][0] == "toml" else '{"mcpServers": {"a": 1,,}\n'
    path.write_text(broken, encoding="utf-8")
    before = env.snapshot()
    result = env.install(client, scope, platform)
    assert result.code == 1
    assert str(path) in result.err
    assert "Fix the file" in result.err
    assert env.snapshot() == before


@pytest.mark.parametrize(("client", "scope", "platform"), CASES)
def test_a_dry_run_writes_nothing(env: Env, client: str, scope: str, platform: str) -> None:
    fresh = env.install(client, scope, platform, dry_run=True)
    assert fresh.code == 0
    assert env.snapshot() == {}
    assert "would create" in fresh.out
    assert COMMAND[0] in fresh.out
    path = env.path(client, scope, platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(existing_file(client), encoding="utf-8")
    before = env.snapshot()
    changed = env.install(client, scope, platform, dry_run=True)
    assert changed.code == 0
    assert env.snapshot() == before
    assert f"+++ {path}" in changed.out
    assert "-" in changed.out and "/old" in changed.out


@pytest.mark.parametrize("client", ["claude-desktop", "windsurf"])
def test_a_client_without_a_project_file_refuses_project_scope(env: Env, client: str) -> None:
    result = env.install(client, "project")
    assert result.code == 1
    assert "--scope project" in result.err
    assert env.snapshot() == {}


def test_an_unknown_client_is_a_usage_error_listing_the_known_ones(env: Env) -> None:
    result = env.install("emacs")
    assert result.code == 2
    assert "claude-code" in result.err and "zed" in result.err


def test_an_unknown_scope_is_a_usage_error(env: Env) -> None:
    assert env.install("cursor", "global").code == 2


def test_a_relative_server_command_is_refused(env: Env) -> None:
    out = io.StringIO()
    code = run_install(
        "cursor",
        scope="user",
        dry_run=False,
        home=env.home,
        cwd=env.cwd,
        command=["provider-router", "serve"],
        platform="linux",
        out=out,
        err=out,
        env={},
        now=NOW,
    )
    assert code == 1
    assert "absolute" in out.getvalue()


def test_codex_toml_keeps_comments_and_round_trips(env: Env) -> None:
    path = env.path("codex", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text(existing_file("codex"), encoding="utf-8")
    assert env.install("codex", env={"PROVIDER_ROUTER_HOME": "/data/pr"}).code == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my settings\n")
    assert tomllib.loads(text)["mcp_servers"]["provider-router"] == our_entry(
        "codex", {"PROVIDER_ROUTER_HOME": "/data/pr"}
    )
    assert text.index("[mcp_servers.provider-router]") < text.index("[profiles.fast]")


@pytest.mark.parametrize(("client", "platform"), [("zed", "linux"), ("vscode", "darwin"), ("zed", "win32")])
def test_settings_with_comments_keep_them_and_gain_our_entry(env: Env, client: str, platform: str) -> None:
    _, key, _ = SHAPES[client]
    path = env.path(client, "user", platform)
    path.parent.mkdir(parents=True)
    original = (
        "// Zed settings\n//\n// For information on how to configure Zed, see the docs.\n{\n"
        '  "theme": "One Dark", // my favourite\n'
        f'  "{key}": {{\n    /* an old one */\n    "other": {{"command": "x", "args": []}},\n  }},\n'
        '  "buffer_font_size": 15,\n}\n'
    )
    path.write_text(original, encoding="utf-8")
    result = env.install(client, platform=platform)
    assert result.code == 0, result.err
    text = path.read_text(encoding="utf-8")
    for comment in ("// Zed settings\n", "// my favourite", "/* an old one */"):
        assert comment in text
    assert "comments and layout were kept" in result.out
    assert text.endswith('  "buffer_font_size": 15,\n}\n')
    from clients.jsonc import parse

    assert parse(text).root.value[key] == {"other": {"command": "x", "args": []}, "provider-router": our_entry(client)}


def test_gemini_settings_keep_their_comments_but_a_trailing_comma_is_refused(env: Env) -> None:
    path = env.path("gemini-cli", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text('// mine\n{\n  "ui": {"theme": "Default"} // theme\n}\n', encoding="utf-8")
    assert env.install("gemini-cli").code == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith('// mine\n{\n  "ui": {"theme": "Default"}, // theme\n  "mcpServers": {')
    assert text.endswith("  }\n}\n")
    path.write_text('{\n  "ui": {"theme": "Default"},\n}\n', encoding="utf-8")
    result = env.install("gemini-cli")
    assert result.code == 1
    assert "trailing comma" in result.err


@pytest.mark.parametrize("client", ["claude-code", "cursor", "windsurf", "claude-desktop"])
def test_a_strict_json_client_refuses_a_file_with_comments(env: Env, client: str) -> None:
    path = env.path(client, "user", "linux")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{\n  // no\n  "mcpServers": {}\n}\n', encoding="utf-8")
    result = env.install(client)
    assert result.code == 1
    assert "not valid JSON" in result.err


def test_a_non_object_servers_member_is_refused(env: Env) -> None:
    path = env.path("cursor", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": []}', encoding="utf-8")
    result = env.install("cursor")
    assert result.code == 1
    assert '"mcpServers" is not an object' in result.err


def test_an_empty_existing_file_is_filled_and_backed_up(env: Env) -> None:
    path = env.path("cursor", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text("\n", encoding="utf-8")
    assert env.install("cursor").code == 0
    assert read(path, "json") == {"mcpServers": {"provider-router": our_entry("cursor")}}
    assert len(backups(path)) == 1


def test_the_mode_of_an_existing_file_is_kept_and_new_user_files_are_private(env: Env) -> None:
    path = env.path("cursor", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o640)
    assert env.install("cursor").code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert env.install("windsurf").code == 0
    assert stat.S_IMODE(env.path("windsurf", "user", "linux").stat().st_mode) == 0o600


def test_a_symlinked_config_stays_a_symlink(env: Env, tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "mcp.json"
    target.parent.mkdir()
    target.write_text('{"mcpServers": {}}', encoding="utf-8")
    link = env.path("cursor", "user", "linux")
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert env.install("cursor").code == 0
    assert link.is_symlink()
    assert read(target, "json")["mcpServers"]["provider-router"] == our_entry("cursor")


def test_a_utf8_bom_and_other_scripts_survive(env: Env) -> None:
    path = env.path("vscode", "project", "linux")
    path.parent.mkdir(parents=True)
    path.write_text('\ufeff{\n  "servers": {},\n  "note": "日本語"\n}\n', encoding="utf-8")
    assert env.install("vscode", "project").code == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff{\n")
    assert '"note": "日本語"' in text


def test_pinned_variables_go_into_the_entry_as_absolute_paths(env: Env) -> None:
    pinned = {"PROVIDER_ROUTER_HOME": "~/router", "XDG_CONFIG_HOME": "cfg", "OPENAI_API_KEY": "sk-secret"}
    assert env.install("claude-code", "project", env=pinned).code == 0
    entry = read(env.path("claude-code", "project", "linux"), "json")["mcpServers"]["provider-router"]
    assert entry["env"] == {"PROVIDER_ROUTER_HOME": str(env.home / "router"), "XDG_CONFIG_HOME": str(env.cwd / "cfg")}


def test_server_env_is_empty_when_nothing_is_set(env: Env) -> None:
    assert server_env({"PATH": "/bin"}, home=env.home, cwd=env.cwd) == {}


def test_xdg_config_home_moves_linux_user_files(env: Env) -> None:
    xdg = env.home / "xdg"
    assert env.install("zed", env={"XDG_CONFIG_HOME": str(xdg)}).code == 0
    assert (xdg / "zed" / "settings.json").is_file()


def test_a_file_that_cannot_be_read_is_reported(env: Env) -> None:
    (env.home / ".cursor").write_text("a file where the directory should be", encoding="utf-8")
    result = env.install("cursor")
    assert result.code == 1
    assert "cannot read" in result.err


def test_a_failed_write_leaves_the_file_and_no_temporary_behind(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    path = env.path("cursor", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text("{}", encoding="utf-8")

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr("clients.configfile.os.replace", refuse)
    result = env.install("cursor")
    assert result.code == 1
    assert f"cannot write {path}" in result.err
    assert path.read_text(encoding="utf-8") == "{}"
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("mcp.json.bak-")) == ["mcp.json"]


def test_instructions_go_between_markers_once(env: Env) -> None:
    (env.cwd / "CLAUDE.md").write_text("# Project rules\n", encoding="utf-8")
    first = env.install("claude-code", "project", instructions=True)
    assert first.code == 0, first.err
    text = (env.cwd / "CLAUDE.md").read_text(encoding="utf-8")
    assert text.startswith("# Project rules\n\n" + BEGIN)
    assert "route_and_complete" in text
    second = env.install("claude-code", "project", instructions=True)
    assert "already holds" in second.out
    assert (env.cwd / "CLAUDE.md").read_text(encoding="utf-8") == text
    assert list(env.cwd.glob("CLAUDE.md.bak-*")) == []


def test_instructions_in_a_dry_run_are_only_shown(env: Env) -> None:
    result = env.install("codex", instructions=True, dry_run=True)
    assert result.code == 0
    assert "AGENTS.md" in result.out
    assert env.snapshot() == {}


def test_claude_desktop_has_no_instructions_file(env: Env) -> None:
    assert env.install("claude-desktop", instructions=True).code == 1


def test_without_the_flag_install_says_where_to_paste_the_instructions(env: Env) -> None:
    result = env.install("gemini-cli")
    assert "AGENT_INSTRUCTIONS.md" in result.out and "GEMINI.md" in result.out


def test_the_default_command_is_absolute_and_serves() -> None:
    command = default_server_command()
    assert Path(command[0]).is_absolute()
    assert command[-1] == "serve"


def test_a_claude_code_project_install_also_allows_the_server_for_this_user(env: Env) -> None:
    local = env.cwd / ".claude" / "settings.local.json"
    assert env.install("claude-code", "project").code == 0
    assert read(local, "json") == {"enabledMcpjsonServers": ["provider-router"]}
    assert stat.S_IMODE(local.stat().st_mode) == 0o600


def test_an_existing_approval_list_keeps_its_entries_and_gains_ours_once(env: Env) -> None:
    local = env.cwd / ".claude" / "settings.local.json"
    local.parent.mkdir()
    local.write_text('{\n  "permissions": {"allow": []},\n  "enabledMcpjsonServers": ["db"]\n}\n', encoding="utf-8")
    assert env.install("claude-code", "project").code == 0
    assert read(local, "json") == {"permissions": {"allow": []}, "enabledMcpjsonServers": ["db", "provider-router"]}
    again = env.install("claude-code", "project")
    assert "already allows provider-router" in again.out
    assert len(backups(local)) == 1


@pytest.mark.parametrize("content", ['{"enabledMcpjsonServers": "all"}', "{oops"])
def test_a_bad_approval_file_stops_the_install_before_anything_is_written(env: Env, content: str) -> None:
    local = env.cwd / ".claude" / "settings.local.json"
    local.parent.mkdir()
    local.write_text(content, encoding="utf-8")
    before = env.snapshot()
    result = env.install("claude-code", "project")
    assert result.code == 1
    assert str(local) in result.err
    assert env.snapshot() == before


def test_user_scope_leaves_project_approvals_alone(env: Env) -> None:
    assert env.install("claude-code").code == 0
    assert not (env.cwd / ".claude").exists()


#: what a user adds to our entry by hand, per file format: install must keep all of it
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "json": {
        "env": {"PROVIDER_ROUTER_HOME": "/data/pr", "HTTPS_PROXY": "http://proxy:3128"},
        "disabled": False,
        "autoApprove": ["provider_status", "route_and_complete"],
        "timeout": 60000,
    },
    "toml": {
        "env": {"PROVIDER_ROUTER_HOME": "/data/pr", "HTTPS_PROXY": "http://proxy:3128"},
        "startup_timeout_sec": 30,
        "tool_timeout_sec": 120,
        "enabled": True,
    },
}


def file_with_user_settings(client: str) -> str:
    """An old entry of ours (old command, args) carrying the user's own settings beside another server."""
    fmt, key, _ = SHAPES[client]
    if fmt == "toml":
        return (
            '# my settings\n[mcp_servers.other]\ncommand = "other-server"\n\n'
            '[mcp_servers.provider-router]\ncommand = "/old/provider-router"\nargs = ["serve", "--old"]\n'
            "startup_timeout_sec = 30\ntool_timeout_sec = 120\nenabled = true\n\n"
            '[mcp_servers.provider-router.env]\nPROVIDER_ROUTER_HOME = "/data/pr"\nHTTPS_PROXY = "http://proxy:3128"\n'
        )
    entry = {"command": "/old/provider-router", "args": ["serve", "--old"], **USER_SETTINGS["json"]}
    return json.dumps({key: {"other": {"command": "other-server"}, "provider-router": entry}}, indent=2) + "\n"


@pytest.mark.parametrize("client", list(SHAPES))
def test_reinstalling_keeps_the_users_settings_in_our_entry(env: Env, client: str) -> None:
    fmt, key, extra = SHAPES[client]
    path = env.path(client, "user", "linux")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file_with_user_settings(client), encoding="utf-8")
    assert env.install(client).code == 0  # PROVIDER_ROUTER_HOME not set in this shell: the entry's is kept
    servers = read(path, fmt)[key]
    assert servers["provider-router"] == {**USER_SETTINGS[fmt], **extra, "command": COMMAND[0], "args": COMMAND[1:]}
    assert servers["other"] == {"command": "other-server"}
    again = env.install(client, now=datetime(2026, 11, 29))
    assert "nothing changed" in again.out


@pytest.mark.parametrize("client", list(SHAPES))
def test_a_pinned_variable_is_set_over_the_entrys_and_its_other_variables_stay(env: Env, client: str) -> None:
    fmt, key, _ = SHAPES[client]
    path = env.path(client, "user", "linux")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file_with_user_settings(client), encoding="utf-8")
    assert env.install(client, env={"PROVIDER_ROUTER_HOME": "/srv/router"}).code == 0
    entry = read(path, fmt)[key]["provider-router"]
    assert entry["env"] == {"PROVIDER_ROUTER_HOME": "/srv/router", "HTTPS_PROXY": "http://proxy:3128"}
    assert {k: v for k, v in entry.items() if k not in ("env", "command", "args", "type", "source")} == {
        k: v for k, v in USER_SETTINGS[fmt].items() if k != "env"
    }


def test_comments_inside_our_entry_stay_when_only_the_command_changes(env: Env) -> None:
    path = env.path("zed", "user", "linux")
    path.parent.mkdir(parents=True)
    path.write_text(
        '{\n  "context_servers": {\n    "provider-router": {\n      // started by Zed\n'
        '      "source": "custom",\n      "command": "/old",\n      "args": ["serve"],\n'
        '      "env": {"PROVIDER_ROUTER_HOME": "/data/pr"}, // my home\n      "settings": {},\n    },\n  },\n}\n',
        encoding="utf-8",
    )
    assert env.install("zed").code == 0
    text = path.read_text(encoding="utf-8")
    assert "// started by Zed" in text and "// my home" in text
    assert f'"command": "{COMMAND[0]}"' in text
    assert '"settings": {}' in text
