"""Predictive quota use inside decide() (README "Predictive quotas"). Pure.

- Use it or lose it: among the accounts of one pool (otherwise equal candidates), the one whose quota would go
  unused at its reset fastest is spent first: the most requests left unused per hour to its reset, at the rate
  seen so far (routing/forecast.py). A free account resetting in an hour with half its requests left beats one
  that just reset.
- Pacing: an account predicted to run out before its reset goes after the others of its pool; a pool whose every
  account is predicted to run out is kept for the task types that rank it first (their preference list names it
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

#: urgencies (requests unused per hour to the reset) closer than this are a tie, left to the pool's own strategy
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
    """The account's tightest daily or monthly window (the one with the least left unused at its reset) and whether
    it is paced (some window runs out before its reset)."""
    windows = e.c.windows
    if not windows:
        return _NONE
    binding: Forecast | None = None
    paced = False
    for window in windows:
        if window.period == "minute" or window.limit <= 0 or window.resets_at is None:
            continue
        f = forecast(window, now)
        if f.runs_out_before_reset and f.remaining > 0:
            paced = True
        if binding is None or f.unused_at_reset / f.limit < binding.unused_at_reset / binding.limit:
            binding = f
    if binding is None:
        return _NONE
    urgency = 0.0
    if binding.resets_at is not None and binding.unused_at_reset > 0:
        hours = max((binding.resets_at - now).total_seconds() / 3600.0, 1 / 60)
        urgency = binding.unused_at_reset / hours
    return Standing(binding, paced, urgency)


def spend_order(survivors: list[Evaluation], ctx: Context) -> tuple[list[Evaluation], str | None]:
    """The pool's accounts (already in its strategy's order) with quota that would go unused spent first and paced
    accounts last; on a tie, the account holding the conversation's warm prompt cache first. The note says why
    when the outlook or the warm cache, not the strategy, picked the first one."""
    if len(survivors) < 2:
        return survivors, None
    if not any(e.c.windows for e in survivors):
        return _warm_first(survivors)
    standings = {id(e): standing(e, ctx.now) for e in survivors}
    top = max(s.urgency for s in standings.values())
    low = min(s.urgency for s in standings.values())
    any_paced = any(s.paced for s in standings.values())
    if top - low < URGENCY_TIE and not any_paced:
        return _warm_first(survivors)

    def key(e: Evaluation) -> tuple[bool, float]:
        s = standings[id(e)]
        return s.paced, -round(s.urgency / URGENCY_TIE) if s.urgency else 0.0

    ordered = sorted(survivors, key=key)
    if ordered[0] is survivors[0]:
        return ordered, None
    return ordered, _note(ordered[0], standings[id(ordered[0])], ctx.now, survivors[0], standings[id(survivors[0])])


def _warm_first(survivors: list[Evaluation]) -> tuple[list[Evaluation], str | None]:
    """A tie: the account that holds the conversation's warm prompt cache leads (its cached prefix is cheaper)."""
    warm = next((e for e in survivors if e.c.warm), None)
    if warm is None or warm is survivors[0]:
        return survivors, None
    note = f"{warm.c.account}: holds the conversation's warm prompt cache"
    return [warm, *(e for e in survivors if e is not warm)], note


def _note(first: Evaluation, mine: Standing, now: datetime, instead: Evaluation, theirs: Standing) -> str:
    ahead = f"{first.c.account}: {describe(mine.binding, now)}" if mine.binding else first.c.account
    if theirs.paced:
        why = f"{instead.c.account} is paced ({describe(theirs.binding, now)})" if theirs.binding else ""
        return f"{ahead}; {why}" if why else ahead
    return f"{ahead}; spent before {instead.c.account}"


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
