"""Predictive quota use inside decide() (README "Predictive quotas"). Pure.

- Use it or lose it: among the accounts of one pool (otherwise equal candidates), the one whose quota is soonest
  lost is spent first: the most requests left per hour to its reset. A free account resetting in an hour with half
  its requests left beats one that just reset; with the same reset, the one with the most left goes first.
- Pacing: a pool whose every account is predicted (routing/forecast.py, at the rate seen since the window began)
  to run out before its reset is kept for the task types that rank it first (their preference list names it
  first): for the others it ranks after every unpaced group of equal tiers, and a choice that turns on it is a
  `limit` choice.
- A minute window at 0 (the ledger's count or the response headers') is already filtered as `quota`.

Each such choice leaves a note for the decision's explanation ("google-2: 14 of 20 requests left, reset in 1 h,
would go unused").
"""

from __future__ import annotations

from datetime import datetime

from routing.forecast import Forecast, describe, forecast
from routing.score import Context, Evaluation, Group

#: urgencies (requests left per hour to the reset) closer than this are a tie, left to the pool's own strategy
URGENCY_TIE = 0.05


class Standing:
    """One account's quota outlook as the ordering sees it (decide()'s scratch)."""

    __slots__ = ("binding", "paced", "urgency")

    def __init__(self, binding: Forecast | None, paced: bool, urgency: float) -> None:
        self.binding = binding
        self.paced = paced
        self.urgency = urgency


_NONE = Standing(None, False, 0.0)


def standing(e: Evaluation, now: datetime) -> Standing:
    """The account's tightest daily or monthly window (the fewest requests left per hour to its reset), that
    pressure (its urgency) and whether it is paced (some window runs out before its reset at this rate)."""
    windows = e.c.windows
    if not windows:
        return _NONE
    binding: Forecast | None = None
    urgency = 0.0
    paced = False
    for window in windows:
        if window.period == "minute" or window.limit <= 0 or window.resets_at is None:
            continue
        f = forecast(window, now)
        if f.runs_out_before_reset and f.remaining > 0:
            paced = True
        hours = max((window.resets_at - now).total_seconds() / 3600.0, 1 / 60)
        pressure = max(0, f.remaining) / hours
        if binding is None or pressure < urgency:
            binding, urgency = f, pressure
    if binding is None:
        return _NONE
    return Standing(binding, paced, urgency)


def spend_order(survivors: list[Evaluation], ctx: Context) -> tuple[list[Evaluation], str | None]:
    """The pool's accounts (already in its strategy's order) with the quota that is soonest lost spent first: the
    most requests left per hour to the reset. On a tie, the account holding the conversation's warm prompt cache
    first. The note says why when the outlook or the warm cache, not the strategy, picked the first one."""
    if len(survivors) < 2:
        return survivors, None
    if not any(e.c.windows for e in survivors):
        return _warm_first(survivors)
    standings = {id(e): standing(e, ctx.now) for e in survivors}
    top = max(s.urgency for s in standings.values())
    low = min(s.urgency for s in standings.values())
    if top - low < URGENCY_TIE:
        return _warm_first(survivors)

    def key(e: Evaluation) -> float:
        return -round(standings[id(e)].urgency / URGENCY_TIE)

    ordered = sorted(survivors, key=key)
    if ordered[0] is survivors[0]:
        return ordered, None
    first = ordered[0]
    mine = standings[id(first)]
    ahead = f"{first.c.account}: {describe(mine.binding, ctx.now)}" if mine.binding else first.c.account
    return ordered, f"{ahead}; spent before {survivors[0].c.account}"


def _warm_first(survivors: list[Evaluation]) -> tuple[list[Evaluation], str | None]:
    """A tie: the account that holds the conversation's warm prompt cache leads (its cached prefix is cheaper)."""
    warm = next((e for e in survivors if e.c.warm), None)
    if warm is None or warm is survivors[0]:
        return survivors, None
    note = f"{warm.c.account}: holds the conversation's warm prompt cache"
    return [warm, *(e for e in survivors if e is not warm)], note


def paced_group(g: Group, ctx: Context) -> bool:
    """Whether every surviving account of the group is predicted to run out before its reset, and the task's own
    preference list does not put the group first (that task type keeps it)."""
    if not g.survivors or not any(e.c.windows for e in g.survivors):
        return False
    tiers = g.tiers
    if tiers.task_list == 0 or tiers.quality_list == 0:
        return False
    return all(standing(e, ctx.now).paced for e in g.survivors)


def pace(groups: list[Group], ctx: Context) -> tuple[list[Group], set[tuple[str, str]]]:
    """The groups in policy order with every paced group after the unpaced ones of equal tiers, and the paced
    groups' (provider, model)."""
    paced: set[tuple[str, str]] = set()
    for g in groups:
        if paced_group(g, ctx):
            paced.add((g.prov, g.model))
            g.key = (*g.key[:6], 1, *g.key[6:])
    if not paced:
        return groups, paced
    for g in groups:
        if (g.prov, g.model) not in paced:
            g.key = (*g.key[:6], 0, *g.key[6:])
    return sorted(groups, key=lambda g: g.key), paced
