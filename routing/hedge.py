"""Hedged requests (README "Latency-aware routing"), off by default (`preferences.hedge`, a call's `hedge`): when
the chosen candidate's first token is later than its p95 TTFT, the next candidate starts too; whichever streams
first is kept and the other is cancelled. Each leg is an ordinary attempt (reserved, logged, settled): the loser
is settled at its input tokens, what a provider bills for a request it received and then lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio

from routing.failover import Action
from routing.types import Decision, RankedCandidate

#: never hedge sooner than this, whatever the history says
MIN_HEDGE_DELAY_S = 0.05


@dataclass
class Leg:
    """One side of a hedged race: its first token, its end, and whether it lost (and is being cancelled)."""

    candidate: RankedCandidate
    first_token: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    lost_to: RankedCandidate | None = None
    action: Action | None = None
    served: bool = False


#: runs one leg's attempt (None: it served the request)
RunLeg = Callable[[Leg], Awaitable["Action | None"]]


def hedge_delay_s(candidate: RankedCandidate) -> float | None:
    """How long to wait for the first token before hedging (None: no history, no hedge)."""
    if candidate.ttft_p95_ms is None:
        return None
    return max(MIN_HEDGE_DELAY_S, candidate.ttft_p95_ms / 1000.0)


def backup_for(
    first: RankedCandidate,
    rest: Sequence[RankedCandidate],
    decision: Decision,
    eligible: Callable[[RankedCandidate], bool],
) -> RankedCandidate | None:
    """The candidate to race against `first`: the next one on another account that may be tried."""
    for candidate in rest:
        if candidate.account == first.account and candidate.provider == first.provider:
            continue
        if decision.may_try(candidate, after_limit=False) and eligible(candidate):
            return candidate
    return None


async def _run(run_leg: RunLeg, leg: Leg) -> None:
    try:
        with leg.scope:
            leg.action = await run_leg(leg)
            leg.served = leg.action is None
    finally:
        leg.first_token.set()  # an ended leg no longer holds the race up
        leg.finished.set()


async def _first_of(*events: anyio.Event) -> None:
    async with anyio.create_task_group() as group:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            group.cancel_scope.cancel()

        for event in events:
            group.start_soon(wait, event)


async def race(run_leg: RunLeg, first: RankedCandidate, second: RankedCandidate, delay_s: float) -> Action | None:
    """Run `first`; if its first token is later than `delay_s`, run `second` too and keep whichever streams first.
    Returns None when a leg served the request, else the action of the leg that failed last."""
    a, b = Leg(first), Leg(second)
    async with anyio.create_task_group() as group:
        group.start_soon(_run, run_leg, a)
        with anyio.move_on_after(delay_s):
            await a.first_token.wait()
        if not a.first_token.is_set():
            group.start_soon(_run, run_leg, b)
            await _first_of(a.first_token, b.first_token)
            # a leg that ended without serving does not win: the other one runs on alone
            winner = next(
                (leg for leg in (a, b) if leg.first_token.is_set() and (leg.served or not leg.finished.is_set())),
                None,
            )
            loser = b if winner is a else a
            if winner is not None and not loser.finished.is_set():
                loser.lost_to = winner.candidate
                loser.scope.cancel()
    if a.served or b.served:
        return None
    return b.action if b.finished.is_set() and b.action is not None else a.action
