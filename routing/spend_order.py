"""Predictive quota use inside decide() (README "Predictive quotas"). Pure.

- Use it or lose it: among the accounts of one pool (otherwise equal candidates), the one whose quota is lost
  soonest is spent first: the earliest reset with requests left, then the most left (earliest deadline first).
  A free account resetting in an hour with half its requests left beats one that just reset; with the same
  reset, the one with the most left goes first.
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

from routing.forecast import describe, forecast, runs_out_before_reset
from routing.score import Context, Evaluation, Group
from routing.types import QuotaWindow

#: resets closer than this are the same deadline (minutes)
RESET_TIE_MIN = 1
_NO_DEADLINE = (10**9, 0)


class Standing:
    """One account's quota outlook as the ordering sees it (decide()'s scratch)."""

    __slots__ = ("binding", "key", "paced")

    def __init__(self, binding: QuotaWindow | None, paced: bool, key: tuple[int, int]) -> None:
        self.binding = binding
        self.paced = paced
        #: (minutes to the binding window's reset, minus what is left of it): smaller is spent first
        self.key = key


_NONE = Standing(None, False, _NO_DEADLINE)
_PACED_ONLY = Standing(None, True, _NO_DEADLINE)


def standing(e: Evaluation, now: datetime) -> Standing:
    """The account's daily or monthly window that resets first with something left (what is lost soonest), and
    whether the account is paced (a window runs out before its reset at this rate: routing/forecast.py)."""
    windows = e.c.windows
    if not windows:
        return _NONE
    binding: QuotaWindow | None = None
    paced = False
    for window in windows:
        resets = window.resets_at
        if window.period == "minute" or window.limit <= 0 or resets is None or window.remaining <= 0:
            continue
        if not paced and runs_out_before_reset(window, now):
            paced = True
        if binding is None or resets < binding.resets_at:  # type: ignore[operator]
            binding = window
    if binding is None or binding.resets_at is None:
        return _PACED_ONLY if paced else _NONE
    minutes = int((binding.resets_at - now).total_seconds() // (60 * RESET_TIE_MIN))
    return Standing(binding, paced, (minutes, -binding.remaining))


def spend_order(survivors: list[Evaluation], ctx: Context) -> tuple[list[Evaluation], str | None]:
    """The pool's accounts (already in its strategy's order) with the quota that is lost soonest spent first: the
    earliest reset with requests left, then the most left (earliest deadline first uses the most quota whatever
    demand follows). On a tie, the account holding the conversation's warm prompt cache first. The note says why
    when the outlook or the warm cache, not the strategy, picked the first one."""
    for e in survivors:
        if e.c.windows:
            break
    else:  # no quota windows: no outlook to order by (a loop: any() and its generator cost more per pool)
        return _warm_first(survivors)
    if len(survivors) < 2:
        return survivors, None
    now = ctx.now
    keys = [standing(e, now).key for e in survivors]
    head = keys[0]
    if keys.count(head) == len(keys):
        return _warm_first(survivors)
    order = sorted(range(len(keys)), key=keys.__getitem__)
    first = survivors[order[0]]
    if keys[order[0]] == head:
        return survivors, None  # the strategy's choice is as good: keep its order at the head
    binding = standing(first, now).binding
    ahead = f"{first.c.account}: {describe(forecast(binding, now), now)}" if binding else first.c.account
    return [survivors[i] for i in order], f"{ahead}; spent before {survivors[0].c.account}"


def _warm_first(survivors: list[Evaluation]) -> tuple[list[Evaluation], str | None]:
    """A tie: the account that holds the conversation's warm prompt cache leads (its cached prefix is cheaper)."""
    for warm in survivors:
        if warm.c.warm:
            break
    else:
        return survivors, None
    if warm is survivors[0]:
        return survivors, None
    note = f"{warm.c.account}: holds the conversation's warm prompt cache"
    return [warm, *(e for e in survivors if e is not warm)], note


def paced_group(g: Group, ctx: Context) -> bool:
    """Whether every surviving account of the group is predicted to run out before its reset, and the task's own
    preference list does not put the group first (that task type keeps it)."""
    if not g.survivors:
        return False
    tiers = g.tiers
    if tiers.task_list == 0 or tiers.quality_list == 0:
        return False
    now = ctx.now
    for e in g.survivors:  # a loop: all() and its generator cost more than the one or two accounts of most pools
        if not standing(e, now).paced:
            break
    else:
        return True
    return False


def pace(groups: list[Group], ctx: Context) -> tuple[list[Group], set[tuple[str, str]]]:
    """The groups in policy order with every paced group after the unpaced ones of equal tiers, and the paced
    groups' (provider, model)."""
    paced: set[tuple[str, str]] = set()
    for g in groups:
        survivors = g.survivors
        if survivors and survivors[0].c.windows and paced_group(g, ctx):
            paced.add((g.prov, g.model))
            g.key = (*g.key[:6], 1, *g.key[6:])
    if not paced:
        return groups, paced
    for g in groups:
        if (g.prov, g.model) not in paced:
            g.key = (*g.key[:6], 0, *g.key[6:])
    return sorted(groups, key=lambda g: g.key), paced
