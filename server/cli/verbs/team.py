"""`team add|list|remove|rotate`: members of a team router (`serve --http`), through server.actions.team and
server.views.team."""

from __future__ import annotations

import argparse

from server.actions.team import IssuedToken, TeamProblem, add_member, remove_member, rotate_member
from server.cli.common import UserError, cli_app, console, emit_json, run, say
from server.views.team import TeamView, team_view


def team(args: argparse.Namespace) -> int:
    """`team add NAME [--budget-daily USD] [--budget-monthly USD] [--admin]`, `team list`, `team remove NAME`,
    `team rotate NAME` (each with --json)."""
    try:
        if args.action == "list":
            return _show(run(_list), as_json=args.json)
        if args.action == "remove":
            run(lambda: _remove(args.name))
            if args.json:
                emit_json({"name": args.name, "removed": True})
            else:
                say(f"member {args.name} removed: their token no longer works")
            return 0
        issued = run(lambda: _issue(args))
    except TeamProblem as error:
        raise UserError(str(error)) from error
    if args.json:
        emit_json(issued)
        return 0
    say(f"member {issued.name}'s token (shown once; only its hash is kept):")
    say(issued.token)
    say(f"install it: provider-router install CLIENT --url https://HOST/mcp --token {issued.token}")
    return 0


async def _list() -> TeamView:
    async with cli_app() as app:
        return await team_view(app)


async def _remove(name: str) -> None:
    async with cli_app() as app:
        await remove_member(app, name)


async def _issue(args: argparse.Namespace) -> IssuedToken:
    async with cli_app() as app:
        if args.action == "rotate":
            return await rotate_member(app, args.name)
        return await add_member(
            app, args.name, budget_daily=args.budget_daily, budget_monthly=args.budget_monthly, admin=args.admin
        )


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:g}"


def _show(view: TeamView, *, as_json: bool) -> int:
    if as_json:
        emit_json(view)
        return 0
    if not view.members:
        say("no members: `provider-router team add NAME` adds one (serve --http then requires their tokens)")
        return 0
    from rich.table import Table

    table = Table("member", "admin", "daily cap", "monthly cap", "today", "this month", "requests today")
    for m in view.members:
        table.add_row(m.name, "yes" if m.admin else "", _usd(m.budget_daily_usd), _usd(m.budget_monthly_usd),
                      f"${m.spent_today_usd:.4f}", f"${m.spent_month_usd:.4f}", str(m.requests_today))  # fmt: skip
    console().print(table)
    return 0
