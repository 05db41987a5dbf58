"""The agents and editors `provider-router install` knows: where each reads its MCP servers, and in what shape.

The facts live in `clients.json` beside this module (one record per client); this module validates them into
frozen values and turns a path template into a path for a given platform, home, project and environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["user", "project"]
FileFormat = Literal["json", "toml"]

SERVER_NAME = "provider-router"
"""The name every client lists the server under."""


class Approval(BaseModel):
    """A per-user, per-project list where the client records which project servers the user allowed."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    path: str
    list_key: str = Field(alias="listKey")


class ClientSpec(BaseModel):
    """One client's facts, as written in clients.json."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str
    label: str
    format: FileFormat
    comments: bool
    """Whether the client itself accepts comments in this file (JSONC, or TOML)."""
    trailing_commas: bool = Field(default=False, alias="trailingCommas")
    """Whether the client's JSONC reader also accepts trailing commas (Zed's and VS Code's do, Gemini CLI's not)."""
    servers_key: str = Field(alias="serversKey")
    entry_extra: dict[str, str] = Field(alias="entryExtra")
    """Fixed members every entry carries besides command/args/env (e.g. `type: stdio`)."""
    user_path: dict[str, str] = Field(alias="userPath")
    """Path template per `sys.platform` value; `*` is every other platform."""
    project_path: str | None = Field(alias="projectPath")
    project_unsupported: str = Field(default="", alias="projectUnsupported")
    project_approval: Approval | None = Field(default=None, alias="projectApproval")
    """Where installing the project file also allows our server, so the client does not hold it back."""
    instructions_file: str | None = Field(alias="instructionsFile")
    check: str
    user_notes: str = Field(default="", alias="userNotes")
    """A caveat of the user-scope file, printed after installing there."""
    http_entry: dict[str, Any] = Field(alias="httpEntry")
    """The entry of a team router reached over HTTP (`{url}` filled in)."""
    http_token_entry: dict[str, Any] = Field(alias="httpTokenEntry")
    """Members set over `http_entry` when a bearer token is given (`{authorization}`: `Bearer TOKEN`)."""

    def path_template(self, scope: Scope, platform: str) -> str | None:
        """The template for this scope and platform, or None when the client has no such file."""
        if scope == "project":
            return self.project_path
        return self.user_path.get(platform, self.user_path["*"])

    def entry(self, command: list[str], env: Mapping[str, str]) -> dict[str, Any]:
        """The server entry in this client's shape: the fixed members first, then command, args, env."""
        value: dict[str, Any] = dict(self.entry_extra)
        value["command"] = command[0]
        value["args"] = list(command[1:])
        # TOML writes no empty env table; every JSON client accepts `"env": {}` and shows it as a place to edit.
        if env or self.format == "json":
            value["env"] = dict(env)
        return value

    def remote_entry(self, url: str, token: str | None) -> dict[str, Any]:
        """The HTTP form of the entry: this client's way of naming a streamable-HTTP URL and its bearer token."""
        values = {"{url}": url, "{authorization}": f"Bearer {token}" if token else ""}
        entry = {**self.http_entry, **(self.http_token_entry if token else {})}
        return {key: _fill(value, values) for key, value in entry.items()}


#: the members of an entry that say how to reach the server, in any client's stdio or HTTP form: installing one
#: form replaces the other's (the entry's other members stay)
TRANSPORT_MEMBERS = frozenset(
    {"type", "command", "args", "env", "source", "url", "httpUrl", "serverUrl", "headers", "http_headers"}
)


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, text in values.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


@cache
def load_clients() -> Mapping[str, ClientSpec]:
    """Every known client by its id, in the table's order."""
    raw = json.loads(resources.files("clients").joinpath("clients.json").read_text(encoding="utf-8"))
    return {key: ClientSpec.model_validate({"id": key, **record}) for key, record in raw.items()}


def client_ids() -> tuple[str, ...]:
    """The ids `install` accepts, in the table's order."""
    return tuple(load_clients())


def template_values(*, platform: str, home: Path, cwd: Path, env: Mapping[str, str]) -> dict[str, Path]:
    """The directories a path template may name, honouring the variables each client itself honours."""

    def from_env(name: str, default: Path) -> Path:
        value = env.get(name, "")
        return Path(value) if value else default

    appdata = from_env("APPDATA", home / "AppData" / "Roaming")
    # Only Linux-likes read XDG_CONFIG_HOME; on macOS and Windows the apps use their own fixed places.
    xdg = from_env("XDG_CONFIG_HOME", home / ".config") if platform not in ("darwin", "win32") else home / ".config"
    return {
        "home": home,
        "cwd": cwd,
        "appdata": appdata,
        "xdg_config": xdg,
        "codex_home": from_env("CODEX_HOME", home / ".codex"),
        "claude_config_dir": from_env("CLAUDE_CONFIG_DIR", home),
    }


def expand(template: str, values: Mapping[str, Path]) -> Path:
    """`{name}/a/b` -> values[name] / "a" / "b"; components are joined with the platform's own separator."""
    head, _, rest = template.partition("/")
    if not (head.startswith("{") and head.endswith("}")):
        raise ValueError(f"path template must start with a {{placeholder}}: {template!r}")
    base = values[head[1:-1]]
    return base.joinpath(*rest.split("/")) if rest else base
