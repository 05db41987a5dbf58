"""The team's members as `team list` shows them: caps, today's and this month's spend (no token, ever)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from server.wiring import App
from server.wiring.identity import visible_member
from storage.team import list_job
from storage.windows import day_window, month_window


class MemberView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    admin: bool
    budget_daily_usd: float | None
    budget_monthly_usd: float | None
    spent_today_usd: float
    spent_month_usd: float
    requests_today: int
    created_at: datetime


class TeamView(BaseModel):
    model_config = ConfigDict(frozen=True)

    members: list[MemberView]


async def team_view(app: App) -> TeamView:
    """Every member, by name, with their caps and spend in the ledger's current day and month."""
    now = app.clock()
    zone = app.ledger.timezone
    rows = await app.store.read(list_job(day_window(now, zone), month_window(now, zone)))
    return TeamView(
        members=[
            MemberView(
                name=row.member.name,
                admin=row.member.admin,
                budget_daily_usd=row.member.budget_daily_usd,
                budget_monthly_usd=row.member.budget_monthly_usd,
                spent_today_usd=row.spent_today_usd,
                spent_month_usd=row.spent_month_usd,
                requests_today=row.requests_today,
                created_at=row.created_at,
            )  # fmt: skip
            for row in rows
        ]
    )


async def member_names(app: App) -> list[str]:
    """The members a viewer may filter the reports and the decision log by: every member's name for an admin or
    the local user, none for a member (who sees only their own)."""
    if visible_member() is not None:
        return []
    return [m.name for m in (await team_view(app)).members]
