"""`ask PROMPT`: one completion from the shell through the router (the action `route_and_complete` calls)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from providers.types import Message
from routing.results import DryRunResult, RouteResult
from routing.router import RouteRequest
from server.actions import Attachments, attach, route
from server.cli.common import UserError, cli_app, emit_json, jsonable, run
from server.workspace import Workspace


def route_note(result: RouteResult) -> str:
    """The one-line account of where an answer came from: `openai/gpt-5.2 @ openai · preference · $0.0012 · 850 ms`."""
    failovers = sum(1 for attempt in result.attempts if attempt.outcome != "success")
    parts = [
        f"{result.provider}/{result.model} @ {result.account}",
        result.reason,
        f"${result.cost_usd:.4f}",
        f"{result.latency_ms:.0f} ms",
        f"{result.usage.input_tokens}+{result.usage.output_tokens} tokens",
    ]
    if failovers:
        parts.append(f"{failovers} failover{'s' if failovers > 1 else ''}")
    if result.switched:
        parts.append(f"switched {result.switched}")
    return " · ".join(parts)


def _prompt(text: str) -> str:
    prompt = sys.stdin.read() if text == "-" else text
    if not prompt.strip():
        raise UserError("the prompt is empty; pass it as an argument or pipe it with `ask -`")
    return prompt


def ask(args: argparse.Namespace) -> int:
    """Route the prompt; print the answer on stdout and the route note on stderr (or everything with --json)."""
    request = RouteRequest(
        messages=(Message(role="user", content=_prompt(args.prompt)),),
        task_type=args.task,
        quality=args.quality,
        provider=args.provider,
        max_output_tokens=args.max_output_tokens,
        dry_run=args.dry_run,
    )
    attachments = Attachments(list(args.file or []), list(args.image or []), bool(args.line_numbers))
    return run(lambda: _ask(request, attachments, as_json=args.json))


async def _ask(request: RouteRequest, attachments: Attachments, *, as_json: bool) -> int:
    async with cli_app(require=True) as app:
        try:
            if attachments:
                workspace = Workspace.of([Path.cwd()], "the current directory")
                request = await attach(request, workspace, attachments, app.config.settings.attach_limits)
            outcome = await route(app, request)
        except ValueError as error:  # a refused file, or an unknown --provider: the message names the fix
            raise UserError(str(error)) from error
    if as_json:
        files = [{"path": file.path, "tokens": file.tokens} for file in request.files]
        emit_json(jsonable(outcome) | {"files": files})
        return 0
    if isinstance(outcome, DryRunResult):
        _print_preview(outcome)
        return 0
    print(outcome.text)
    print(f"— {route_note(outcome)}", file=sys.stderr)
    return 0


def _print_preview(result: DryRunResult) -> None:
    chosen = f"{result.provider}/{result.model} @ {result.account}" if result.provider else "nothing"
    print(f"would route to {chosen} ({result.reason or result.error}); task type {result.task_type}")
    for line in result.explanation:
        print(f"  {line}")
