"""Verbs that change what routing prefers: `prefer`, `budget`, `switch`, `reset`, `config`.

Preferences live in providers.json (written through server.config.write, as the MCP `set_preference` tool does);
the manual switch and the cooldowns live in the shared database: `switch` is the action `switch_provider` calls.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from server.actions import PreferenceResult, set_preference
from server.actions import reset as reset_action
from server.actions import switch as switch_action
from server.cli.common import UserError, cli_app, cli_clock, cli_paths, emit_json, run, say, warn
from server.config import (
    ConfigError,
    ConfigWrite,
    Edit,
    key_path,
    parse_value,
    redacted_view,
    write_config_edits,
)
from server.views import PreferencesView
from server.wiring import AppUnavailable, read_config
from server.wiring.app import configured_database


def _write(edits: Sequence[Edit]) -> ConfigWrite:
    return write_config_edits(cli_paths(), edits, os.environ, now=cli_clock()().astimezone())


def _report_write(result: ConfigWrite, what: str) -> None:
    if not result.changed:
        say(f"{what} (already so; {result.path} unchanged)")
        return
    say(f"{what} (written to {result.path})")
    if result.backup is not None:
        say(f"  the previous file is kept as {result.backup}")


def prefer(args: argparse.Namespace) -> int:
    """`prefer [--task T | --quality Q] PROVIDER...`: the `set_preference` action for one preference order."""
    default = args.task is None and args.quality is None
    change = {"providers": args.providers, "task_type": args.task, "quality": args.quality, "default": default}
    result = run(lambda: _set_preference(**change))
    scope = f"--task {args.task}" if args.task else f"--quality {args.quality}" if args.quality else "default"
    return _render(result, f"{scope}: {' > '.join(_order(result.preferences, args.task, args.quality))}", args.json)


def _order(view: PreferencesView, task: str | None, quality: str | None) -> list[str]:
    """The order now in force for the list that was set (names resolved: `moonshot` reads `kimi`)."""
    if task is not None:
        return view.task_preferences.get(task, [])
    if quality is not None:
        return view.quality_preferences.get(quality, [])
    return [view.default] if view.default else []


def budget(args: argparse.Namespace) -> int:
    """`budget MODE`: free_only, cost_first or quality_first (the `set_preference` action's budget_mode)."""
    result = run(lambda: _set_preference(budget_mode=args.mode))
    return _render(result, f"budget mode: {args.mode}", args.json)


async def _set_preference(**change: Any) -> PreferenceResult:
    async with cli_app() as app:
        try:
            return await set_preference(app, **change)
        except ValueError as error:
            raise UserError(str(error)) from error


def _render(result: PreferenceResult, what: str, as_json: bool) -> int:
    for warning in result.warnings:
        warn(warning)
    if as_json:
        emit_json(result.preferences)
        return 0
    if not result.changed:
        say(f"{what} (already so; {result.config_file} unchanged)")
        return 0
    say(f"{what} (written to {result.config_file})")
    if result.backup is not None:
        say(f"  the previous file is kept as {result.backup}")
    return 0


def switch(args: argparse.Namespace) -> int:
    """`switch PROVIDER|auto [--model M] [--conversation ID]`: the manual switch, audited in the decision log."""
    return run(lambda: _switch(args.provider, args.model, args.conversation, as_json=args.json))


async def _switch(provider: str, model: str | None, conversation: str | None, *, as_json: bool) -> int:
    async with cli_app() as app:
        try:
            result = await switch_action(app, provider, model, conversation)
        except ValueError as error:
            raise UserError(
                f"{error}; `provider-router list` shows them, `provider-router log` the conversations"
            ) from error
    if as_json:
        emit_json(
            {
                "provider": result.provider or "auto",
                "model": result.model,
                "conversation_id": result.conversation_id,
                "scope": result.scope,
            }
        )
        return 0
    where = f"conversation {conversation}" if conversation else "every request"
    if result.provider is None:
        say(f"automatic routing for {where}")
    else:
        what = result.provider + (f"/{result.model}" if result.model else "")
        say(f"{where} now goes to {what} (undo: provider-router switch auto)")
    return 0


def reset(args: argparse.Namespace) -> int:
    """`reset`: back to automatic routing; clears the switch, cooldowns, exhaustion, breakers and learned limits."""
    return run(lambda: _reset(as_json=args.json))


async def _reset(*, as_json: bool) -> int:
    async with cli_app() as app:
        result = await reset_action(app)
    if as_json:
        emit_json({"switch_cleared": result.switch_cleared, "accounts_reset": result.accounts_reset})
        return 0
    pin = f"cleared the switch to {result.previous.provider}; " if result.previous else ""
    cleared = result.accounts_reset
    say(f"automatic routing: {pin}cooldowns, exhausted marks and learned limits cleared ({cleared} row(s))")
    return 0


def config(args: argparse.Namespace) -> int:
    """`config path|show|validate|set KEY VALUE`."""
    action: str = args.action
    if action == "path":
        return _config_path(as_json=args.json)
    if action == "show":
        return _config_show(as_json=args.json)
    if action == "validate":
        return _config_validate(as_json=args.json)
    return _config_set(args.key, args.value, as_json=args.json)


def _config_path(*, as_json: bool) -> int:
    paths = cli_paths()
    try:  # router.db, or the PostgreSQL URL without its password
        database = configured_database(paths, os.environ, cli_clock()().date()).shown
    except AppUnavailable as error:
        database = str(error)
    if as_json:
        emit_json({"home": paths.home, "config": paths.config_file, "database": database})
        return 0
    say(str(paths.config_file))
    say(database)
    return 0


def _config_show(*, as_json: bool) -> int:
    paths = cli_paths()
    config, error = read_config(paths, os.environ, cli_clock()().date())
    if error is not None:
        raise error
    view = redacted_view(config)
    if as_json:
        emit_json(view)
        return 0
    import json

    say(json.dumps(view, indent=2, ensure_ascii=False))
    return 0


def _config_validate(*, as_json: bool) -> int:
    paths = cli_paths()
    config, error = read_config(paths, os.environ, cli_clock()().date())
    problem = str(error) if error else config.setup_hint
    if as_json:
        emit_json(
            {"path": paths.config_file, "valid": problem is None, "problem": problem, "warnings": config.warnings}
        )
        return 1 if problem else 0
    if problem is not None:
        raise error if error is not None else UserError(problem)
    accounts = sum(len(provider.accounts) for provider in config.providers.values())
    say(f"{paths.config_file} is valid: {len(config.providers)} provider(s), {accounts} account(s)")
    for warning in config.warnings:
        say(f"  warning: {warning}")
    return 0


def _config_set(key: str, value_text: str, *, as_json: bool) -> int:
    try:
        path = key_path(key)
    except ValueError as error:
        raise UserError(str(error)) from error
    value = parse_value(value_text)
    try:
        result = _write([(path, value)])
    except ConfigError as error:
        raise UserError(f"{error} (providers.json was not changed)") from error
    if as_json:
        emit_json({"key": ".".join(path), "value": value, "path": result.path, "backup": result.backup})
        return 0
    _report_write(result, f"{'.'.join(path)} = {value_text}")
    return 0
