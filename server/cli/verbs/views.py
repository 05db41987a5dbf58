"""Read-only verbs: `status`, `list`, `quota`, `log`, `monitor` — server.views (as the MCP tools) rendered by
server.cli.dashboard, or printed as JSON."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from server.cli.common import UserError, cli_app, console, emit_json, run
from server.wiring import App

T = TypeVar("T")


async def _report(call: Callable[[App], Awaitable[T]]) -> T:
    async with cli_app() as app:
        try:
            return await call(app)
        except ValueError as error:  # an unknown --provider: the message lists the configured ones
            raise UserError(str(error)) from error


def status(args: argparse.Namespace) -> int:
    """The dashboard: current provider and context, the provider table, recent decisions."""
    from server.cli import dashboard

    async def body() -> int:
        from server.views import activity_view

        async with cli_app() as app:
            board = await dashboard.gather(app, member=args.member)
            activity = await activity_view(app)
        if args.provider is not None:
            chosen = [p for p in board.status.providers if p.id == args.provider]
            if not chosen:
                known = ", ".join(p.id for p in board.status.providers) or "none"
                raise UserError(f"no provider {args.provider!r} is configured (configured: {known})")
            board = board.model_copy(update={"status": board.status.model_copy(update={"providers": chosen})})
        if args.json:
            current = {"current": board.current.model_dump(mode="json"), "activity": activity.model_dump(mode="json")}
            emit_json(board.status.model_dump(mode="json") | current)
        else:
            console().print(dashboard.render_dashboard(board))
        return 0 if board.status.ready else 1

    return run(body)


def list_providers(args: argparse.Namespace) -> int:
    """The configured providers with models, prices, accounts and key references."""
    from server.views import providers_view

    report = run(lambda: _report(providers_view))
    if args.json:
        emit_json(report)
    else:
        from server.cli.dashboard import render_providers

        console().print(render_providers(report))
    return 0 if not report.problems else 1


def quota(args: argparse.Namespace) -> int:
    """Use of the day's (or month's) quotas and budgets per account, with the forecast of exhaustion."""
    from server.views import quota_report

    report = run(lambda: _report(lambda app: quota_report(app, args.period, args.provider)))
    if args.json:
        emit_json(report)
    else:
        from server.cli.dashboard import render_quota

        console().print(render_quota(report))
    return 0 if not report.problems else 1


def log(args: argparse.Namespace) -> int:
    """Recent decisions and switches, or one decision in full with --id."""
    from server.cli import dashboard
    from server.views import DecisionLogView, decision_detail, decision_log, provider_status

    if args.flow:
        from server.cli.verbs.reports import flow

        return flow(args)
    if args.decision_id is not None:
        detail = run(lambda: _report(lambda app: decision_detail(app, args.decision_id)))
        if detail is None:
            raise UserError(f"no decision #{args.decision_id}; `provider-router log` lists the recent ones")
        if args.json:
            emit_json(detail)
        else:
            console().print(dashboard.render_decision(detail))
        return 0

    async def both(app: App) -> tuple[DecisionLogView, dict[str, str]]:
        view = await decision_log(
            app, args.limit, conversation_id=args.conversation, provider=args.provider, task_type=args.task,
            reason=args.reason, outcome=args.outcome, member=args.member,
        )  # fmt: skip
        return view, dashboard.account_labels(await provider_status(app))

    view, labels = run(lambda: _report(both))
    if args.json:
        emit_json(view)
    else:
        console().print(dashboard.render_log(view, labels))
    return 0


def monitor(args: argparse.Namespace) -> int:
    """The dashboard, redrawn from the shared database every --interval seconds until Ctrl-C."""
    from server.cli import dashboard

    if args.interval <= 0:
        raise UserError("--interval must be a positive number of seconds")

    async def body() -> int:
        async with cli_app() as app:
            if args.once:
                console().print(dashboard.render_dashboard(await dashboard.gather(app, member=args.member)))
                return 0
            from rich.live import Live

            with Live(console=console(), auto_refresh=False, screen=False) as live:
                while True:
                    live.update(
                        dashboard.render_dashboard(await dashboard.gather(app, member=args.member)), refresh=True
                    )
                    await anyio.sleep(args.interval)

    try:
        return run(body)
    except KeyboardInterrupt:
        return 0
