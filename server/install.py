"""`provider-router install CLIENT`: register this installation's server in an agent's or editor's MCP config.

The per-client facts (file per platform and scope, top-level key, entry shape, format) are data in
`clients/clients.json`; this module resolves them, merges the entry and reports what it did.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from clients.configfile import ConfigFileError, Plan, apply, plan_update, read_text, write_target
from clients.instructions import snippet, snippet_path, with_snippet
from clients.table import ClientSpec, Scope, client_ids, expand, load_clients, template_values

PINNED_ENV = ("PROVIDER_ROUTER_HOME", "XDG_CONFIG_HOME")
"""Variables copied into the entry when set: agents start servers with a thin environment (often only HOME,
PATH, USER…), so without them the server would open another home than the one the user set up."""

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
    now: datetime | None = None,
) -> int:
    """Register `provider-router` in CLIENT's config; return the exit status (0 done, 1 user error, 2 usage).

    `env` defaults to the process environment (it decides CODEX_HOME, APPDATA, XDG_CONFIG_HOME… and the
    pinned variables). With `instructions`, the delegation snippet is also placed between markers in the
    client's instructions file in `cwd` (CLAUDE.md, AGENTS.md, GEMINI.md…).
    """
    err = err or sys.stderr
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
    environ: Mapping[str, str] = os.environ if env is None else env
    path = config_path(spec, scope=scope, platform=platform, home=home, cwd=cwd, env=environ)
    if path is None:
        print(
            f"{spec.label} has no project-scope MCP config ({spec.project_unsupported}); "
            f"run `provider-router install {spec.id}` without --scope project",
            file=err,
        )
        return 1
    entry = spec.entry(command, server_env(environ, home=home, cwd=cwd))
    try:
        plan = plan_update(spec, write_target(path), entry)
        _report_config(spec, scope, plan, dry_run=dry_run, now=now or datetime.now(), out=out)
        if instructions:
            return _place_instructions(spec, cwd, dry_run=dry_run, out=out, err=err)
    except ConfigFileError as exc:
        print(str(exc), file=err)
        return 1
    _print_instructions_hint(spec, out)
    return 0


def _report_config(spec: ClientSpec, scope: Scope, plan: Plan, *, dry_run: bool, now: datetime, out: TextIO) -> None:
    where = f"{spec.label}, {scope} scope"
    if dry_run:
        if not plan.changed:
            print(f"dry run: {plan.path} already registers provider-router ({where}); nothing would change", file=out)
        elif plan.old_text is None:
            print(f"dry run: would create {plan.path} ({where}) with:\n{plan.new_text}", file=out, end="")
        else:
            print(f"dry run: would change {plan.path} ({where}), keeping a backup:\n{plan.diff()}", file=out, end="")
        return
    if not plan.changed:
        print(f"{plan.path} already registers provider-router ({where}); nothing changed", file=out)
    else:
        backup = apply(plan, now=now, new_file_mode=_NEW_FILE_MODE[scope])
        print(f"registered provider-router in {plan.path} ({where})", file=out)
        if backup is not None:
            print(f"  the previous file is saved as {backup}", file=out)
        if plan.had_comments:
            print("  the file's comments and layout were kept", file=out)
    print(f"  next: {spec.check}", file=out)
    if scope == "user" and spec.user_notes:
        print(f"  note: {spec.user_notes}", file=out)
    if scope == "project":
        print("  note: the entry names this machine's absolute path; others run this install for themselves", file=out)


def _print_instructions_hint(spec: ClientSpec, out: TextIO) -> None:
    if spec.instructions_file is None:
        print(f"  to tell the agent when to delegate, add {snippet_path()} to its instructions", file=out)
    else:
        print(
            f"  to tell the agent when to delegate, paste {snippet_path()} into {spec.instructions_file} "
            "(or run install again with --instructions)",
            file=out,
        )


def _place_instructions(spec: ClientSpec, cwd: Path, *, dry_run: bool, out: TextIO, err: TextIO) -> int:
    if spec.instructions_file is None:
        print(f"{spec.label} reads no instructions file; paste {snippet_path()} into its custom instructions", file=err)
        return 1
    path = write_target(cwd / spec.instructions_file)
    old = read_text(path)
    plan = Plan(path, old, with_snippet(old, snippet()), had_comments=False)
    if not plan.changed:
        print(f"{path} already holds the delegation instructions", file=out)
    elif dry_run:
        print(f"dry run: would update {path}:\n{plan.diff()}", file=out, end="")
    else:
        apply(plan, now=datetime.now(), new_file_mode=0o644, backup=False)
        print(f"added the delegation instructions to {path} (between provider-router markers)", file=out)
    return 0
