"""`team add|remove|rotate`: the members of a team router (storage.team); a token is returned once, never stored."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from server.wiring import App
from storage.team import Member, add_job, check_name, new_token, remove_job, rotate_job, token_hash


class IssuedToken(BaseModel):
    """A member's new bearer token: shown once (only its hash is kept)."""

    model_config = ConfigDict(frozen=True)

    name: str
    token: str


class TeamProblem(ValueError):
    """A member that does not exist, a taken name or a bad cap; the message names the fix."""


def _cap(label: str, usd: float | None) -> float | None:
    if usd is not None and not (math.isfinite(usd) and usd >= 0):
        raise TeamProblem(f"{label} must be a number of USD, 0 or more (got {usd})")
    return usd


async def add_member(
    app: App, name: str, *, budget_daily: float | None = None, budget_monthly: float | None = None, admin: bool = False
) -> IssuedToken:
    """Add a member with their caps; returns their token (the only time it is shown)."""
    try:
        member = Member(check_name(name), admin, _cap("--budget-daily", budget_daily),
                        _cap("--budget-monthly", budget_monthly))  # fmt: skip
    except ValueError as error:
        raise TeamProblem(str(error)) from error
    token = new_token()
    try:
        await app.store.write(add_job(member, token_hash(token), app.clock()))
    except ValueError as error:  # MemberExists
        raise TeamProblem(str(error)) from error
    return IssuedToken(name=name, token=token)


async def remove_member(app: App, name: str) -> None:
    """Remove a member; their token stops working at once."""
    if not await app.store.write(remove_job(name)):
        raise TeamProblem(f"no member {name[:70]!r}: `provider-router team list` shows them")


async def rotate_member(app: App, name: str) -> IssuedToken:
    """A new token for a member (the old one stops working at once); returns it (the only time it is shown)."""
    token = new_token()
    if not await app.store.write(rotate_job(name, token_hash(token), app.clock())):
        raise TeamProblem(f"no member {name[:70]!r}: `provider-router team add {name[:70]}` adds them")
    return IssuedToken(name=name, token=token)
