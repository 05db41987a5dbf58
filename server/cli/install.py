"""`provider-router install CLIENT`: register this installation's server in an agent's or editor's MCP config.

The per-client facts (file per platform and scope, top-level key, entry shape, format) are data in
`clients/clients.json`; this module resolves them, merges the entry and reports what it did.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO
from urllib.parse import urlsplit

from clients.configfile import ConfigFileError, Plan, apply, plan_list_item, plan_update, read_text, write_target
from clients.instructions import snippet, snippet_path, with_snippet
from clients.table import (
    SERVER_NAME,
    TRANSPORT_MEMBERS,
    Approval,
    ClientSpec,
    Scope,
    client_ids,
    expand,
    load_clients,
    template_values,
)

PINNED_ENV = ("PROVIDER_ROUTER_HOME", "XDG_CONFIG_HOME")
"""Variables copied into the entry when set: agents start servers with a thin environment (often only HOME,
PATH, USER…), so without them the server would open another home than the one the user set up."""

#: what the stdio form drops of an HTTP-form entry written before
HTTP_ONLY_MEMBERS = frozenset({"url", "httpUrl", "serverUrl", "headers", "http_headers"})

_NEW_FILE_MODE: dict[Scope, int] = {"user": 0o600, "project": 0o644}


def default_server_command() -> list[str]:
    """The absolute command that runs this installation's `provider-router serve`."""
    script = "provider-router.exe" if sys.platform == "win32" else "provider-router"
    beside = Path(sys.executable).parent / script
    if beside.is_file():
        return [str(beside.absolute()), "serve"]
    found = shutil.which("provider-router")
    if found:
        return [str(Path(found).absolute()), "serve"]
    return [str(Path(sys.executable).absolute()), "-m", "server.cli", "serve"]


def server_env(env: Mapping[str, str], *, home: Path, cwd: Path) -> dict[str, str]:
    """The environment to pin in the entry: each of PINNED_ENV that is set, as an absolute path."""
    pinned = {}
    for name in PINNED_ENV:
        value = env.get(name, "")
        if not value:
            continue
        if value == "~" or value.startswith(("~/", "~\\")):
            path = home / value[2:]
        else:
            path = Path(value) if Path(value).is_absolute() else cwd / value
        pinned[name] = str(path)
    return pinned


def config_path(
    spec: ClientSpec, *, scope: Scope, platform: str, home: Path, cwd: Path, env: Mapping[str, str]
) -> Path | None:
    """The file this client reads for that scope on that platform, or None if it has none."""
    template = spec.path_template(scope, platform)
    if template is None:
        return None
    return expand(template, template_values(platform=platform, home=home, cwd=cwd, env=env))


def run_install(
    client: str,
    *,
    scope: Literal["user", "project"],
    dry_run: bool,
    home: Path,
    cwd: Path,
    command: list[str],
    platform: str,
    out: TextIO,
    err: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    instructions: bool = False,
    now: datetime,
    url: str | None = None,
    token: str | None = None,
) -> int:
    """Register `provider-router` in CLIENT's config; return the exit status (0 done, 1 user error, 2 usage).

    `env` defaults to the process environment (it decides CODEX_HOME, APPDATA, XDG_CONFIG_HOME… and the
    pinned variables). With `instructions`, the delegation snippet is also placed between markers in the
    client's instructions file in `cwd` (CLAUDE.md, AGENTS.md, GEMINI.md…). An entry already there keeps
    every member install does not own (its `env` variables, `disabled`, `autoApprove`, timeouts…). `now` (the
    caller's clock) names the backups. With `url` (a team router's `serve --http`), the entry is the client's HTTP
    form with `token` as its bearer token, in place of the stdio one.
    """
    err = err or sys.stderr
    spec = _check_arguments(client, scope, command, err)
    if isinstance(spec, int):
        return spec
    environ: Mapping[str, str] = os.environ if env is None else env
    path = config_path(spec, scope=scope, platform=platform, home=home, cwd=cwd, env=environ)
    if path is None:
        print(
            f"{spec.label} has no project-scope MCP config ({spec.project_unsupported}); "
            f"run `provider-router install {spec.id}` without --scope project",
            file=err,
        )
        return 1
    if instructions and spec.instructions_file is None:
        print(f"{spec.label} reads no instructions file; paste {snippet_path()} into its own instructions", file=err)
        return 1
    if url is None:
        entry, drop = spec.entry(command, server_env(environ, home=home, cwd=cwd)), HTTP_ONLY_MEMBERS
    else:
        if _bad_url(url, token, err):
            return 1
        entry, drop = spec.remote_entry(url, token), TRANSPORT_MEMBERS
    try:
        # Every file is read and merged before any is written: one bad file stops the install untouched.
        steps = [
            _Step(
                plan_update(spec, write_target(path), entry, drop=drop),
                "registered provider-router in",
                f"({spec.label}, {scope} scope)",
                "already registers provider-router",
                mode=_NEW_FILE_MODE[scope],
            ),
        ]
        if scope == "project" and spec.project_approval is not None:
            steps.append(_approval_step(spec.project_approval, home=home, cwd=cwd, env=environ, platform=platform))
        if instructions and spec.instructions_file is not None:
            steps.append(_instructions_step(cwd / spec.instructions_file))
        for step in steps:
            step.carry_out(dry_run=dry_run, now=now, out=out)
    except ConfigFileError as exc:
        print(str(exc), file=err)
        return 1
    _print_next(spec, scope, instructions=instructions, out=out)
    return 0


def _bad_url(url: str, token: str | None, err: TextIO) -> bool:
    """Whether `url` cannot be a team router's MCP URL (said on `err`, with the fix)."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        print(f"--url {url[:80]!r} is not an http(s) URL: pass the router's MCP URL, e.g. https://host/mcp", file=err)
        return True
    if token is not None and (not token.strip() or any(c.isspace() for c in token)):
        print("--token must be the member's token as `provider-router team add` printed it", file=err)
        return True
    return False


def _check_arguments(client: str, scope: str, command: list[str], err: TextIO) -> ClientSpec | int:
    """The client's spec, or the exit status for arguments that cannot work."""
    spec = load_clients().get(client)
    if spec is None:
        print(f"unknown client {client!r}; choose one of: {', '.join(client_ids())}", file=err)
        return 2
    if scope not in ("user", "project"):
        print(f"unknown scope {scope!r}; use --scope user or --scope project", file=err)
        return 2
    if not command or not Path(command[0]).is_absolute():
        print(f"the server command must start with an absolute path, got {command!r}", file=err)
        return 1
    return spec


@dataclass(frozen=True)
class _Step:
    """One file to write, and how to speak of it."""

    plan: Plan
    done: str
    where: str
    unchanged: str
    mode: int
    backup: bool = True

    def carry_out(self, *, dry_run: bool, now: datetime, out: TextIO) -> None:
        plan = self.plan
        where = f" {self.where}" if self.where else ""
        if not plan.changed:
            print(f"{plan.path}{where} {self.unchanged}; nothing {'would change' if dry_run else 'changed'}", file=out)
        elif dry_run and plan.old_text is None:
            print(f"dry run: would create {plan.path}{where} with:\n{plan.new_text}", file=out, end="")
        elif dry_run:
            keeping = ", keeping a backup" if self.backup else ""
            print(f"dry run: would change {plan.path}{where}{keeping}:\n{plan.diff()}", file=out, end="")
        else:
            saved = apply(plan, now=now, new_file_mode=self.mode, backup=self.backup)
            print(f"{self.done} {plan.path}{where}", file=out)
            if saved is not None:
                print(f"  the previous file is saved as {saved}", file=out)
            if plan.had_comments:
                print("  the file's comments and layout were kept", file=out)


def _approval_step(approval: Approval, *, home: Path, cwd: Path, env: Mapping[str, str], platform: str) -> _Step:
    values = template_values(platform=platform, home=home, cwd=cwd, env=env)
    path = write_target(expand(approval.path, values))
    plan = plan_list_item(path, approval.list_key, SERVER_NAME)
    return _Step(
        plan,
        "allowed the project's provider-router in",
        "",
        "already allows provider-router",
        mode=_NEW_FILE_MODE["user"],
    )


def _instructions_step(path: Path) -> _Step:
    path = write_target(path)
    old = read_text(path)
    plan = Plan(path, old, with_snippet(old, snippet()), had_comments=False)
    return _Step(
        plan,
        "added the delegation instructions (between provider-router markers) to",
        "",
        "already holds the delegation instructions",
        mode=0o644,
        backup=False,
    )


def _print_next(spec: ClientSpec, scope: Scope, *, instructions: bool, out: TextIO) -> None:
    print(f"  next: {spec.check}", file=out)
    if scope == "user" and spec.user_notes:
        print(f"  note: {spec.user_notes}", file=out)
    if scope == "project":
        print("  note: the entry names this machine's absolute path; others run this install for themselves", file=out)
    if instructions:
        return
    if spec.instructions_file is None:
        print(f"  to tell the agent when to delegate, add {snippet_path()} to its instructions", file=out)
    else:
        print(
            f"  to tell the agent when to delegate, paste {snippet_path()} into {spec.instructions_file} "
            "(or run install again with --instructions)",
            file=out,
        )
