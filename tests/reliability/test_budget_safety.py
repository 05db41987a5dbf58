"""Budget safety: no mix of concurrent requests, failovers, two servers on one database and a killed third spends
past the global budget; `free_only` never records a cent."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest

from providers.simulator import Fault, Simulator
from tests.clock import fixed_epoch
from tests.harness import ENV
from tests.reliability import tally
from tests.reliability.stdio import raw_server
from tests.reliability.support import BACKUP, KINDS, Live, live, matrix_accounts, matrix_config, text_of

pytestmark = pytest.mark.anyio

NANO = 1_000_000_000
BUDGET_USD = 0.05
#: about $0.0064 a call (64 output tokens at $100 per million): the budget holds some eight calls
PRICES = {"inputCostPer1M": 10.0, "outputCostPer1M": 100.0}
FAILOVER_FAULTS: tuple[Fault, ...] = ("server_error", "rate_limited", "reset", "error_in_stream", "truncated_stream")
CALLS = 48


def _budget_config(sim: Simulator, **preferences: Any) -> dict[str, Any]:
    config = matrix_config(sim, **preferences)
    for provider in config["providers"].values():
        for model in provider["models"].values():
            model.update(PRICES)
    config["preferences"]["budgetUsd"] = {"daily": BUDGET_USD}
    return config


async def _spend(sessions: Sequence[Live], sim: Simulator, seed: int) -> list[dict[str, Any]]:
    """CALLS concurrent calls spread over the sessions, with a fault scripted on every account now and then."""
    randomly = random.Random(seed)
    outcomes: list[dict[str, Any]] = []

    async def one(n: int) -> None:
        if n % 3 == 0:
            account = randomly.choice([*KINDS, BACKUP])
            sim.script(account, [randomly.choice(FAILOVER_FAULTS)])
        session = sessions[n % len(sessions)]
        pin = {"provider": randomly.choice(list(KINDS))} if n % 4 == 0 else {}
        result = await session.call("route_and_complete", prompt=f"Task {n}", max_output_tokens=64, **pin)
        outcomes.append({"error": result.is_error, "text": text_of(result), **(result.structured_content or {})})

    async with anyio.create_task_group() as group:
        for n in range(CALLS):
            group.start_soon(one, n)
    return outcomes


async def _scalar(session: Live, sql: str) -> Any:
    return next(iter(await session.app.store.fetchall(sql, ())))[0]


async def test_concurrent_calls_failovers_and_a_killed_server_never_spend_past_the_global_budget(
    tmp_path: Path,
) -> None:
    async with (
        Simulator(matrix_accounts(output_tokens=64, latency_ms=30), clock=fixed_epoch) as sim,
        AsyncExitStack() as stack,
    ):
        config = _budget_config(sim)
        first = await stack.enter_async_context(live(tmp_path, sim, config))
        second = await stack.enter_async_context(live(tmp_path, sim, config))  # another process, same database
        with anyio.fail_after(60):
            # a third server takes a reservation, then dies with it
            sim.configure(BACKUP, latency_ms=10_000)
            async with raw_server(tmp_path, ENV) as doomed, anyio.create_task_group() as group:
                group.start_soon(doomed.call, "route_and_complete", {"prompt": "Doomed", "max_output_tokens": 64})
                while sim.stats(BACKUP).requests == 0:
                    await anyio.sleep(0.01)
                doomed.kill()
                group.cancel_scope.cancel()
            sim.configure(BACKUP, latency_ms=30)
            outcomes = await _spend([first, second], sim, seed=8)
            settled = await _scalar(
                first, "SELECT COALESCE(SUM(cost_nusd), 0) FROM reservations WHERE state = 'settled'"
            )
            logged = await _scalar(first, "SELECT COALESCE(SUM(cost_nusd), 0) FROM attempts")
            pending = await _scalar(
                first, "SELECT COALESCE(SUM(est_cost_nusd), 0) FROM reservations WHERE state = 'pending'"
            )
    served = [o for o in outcomes if not o["error"]]
    refused = [o["text"] for o in outcomes if o["error"]]
    assert served and refused, "the budget never bit: the test did not test it"
    assert all("budget" in text for text in refused), refused[:3]
    assert settled == logged == sum(round(o["cost_usd"] * NANO) for o in served)
    assert settled + pending <= BUDGET_USD * NANO  # what was spent, and what the dead server still holds
    tally.record("requests", len(outcomes), test="budget safety")
    tally.record("faults", sum(sim.stats(a.id).failed for a in sim.spec.accounts), test="budget failovers")
    tally.record("overspend", max(0, settled - round(BUDGET_USD * NANO)), test="budget safety")


@pytest.mark.parametrize("where", ["config", "call"])
async def test_free_only_never_records_a_cent_whatever_is_asked(tmp_path: Path, where: str) -> None:
    async with Simulator(matrix_accounts(output_tokens=64), clock=fixed_epoch) as sim:
        config = _budget_config(sim, budgetMode="free_only" if where == "config" else "cost_first")
        config["providers"]["google"]["models"]["gemini-3.5-flash-lite"] = {"inputCostPer1M": 0, "outputCostPer1M": 0}
        paid = [provider for provider in (*KINDS, BACKUP) if provider != "google"]
        async with live(tmp_path, sim, config) as s:
            outcomes: list[Any] = []
            with anyio.fail_after(60):
                for n, provider in enumerate([None, *paid, None, "google"] * 3):
                    if n % 5 == 0:
                        sim.script("google", [random.Random(n).choice(FAILOVER_FAULTS)])
                    arguments: dict[str, Any] = {"prompt": f"Task {n}", "max_output_tokens": 64}
                    if where == "call":
                        arguments["budget_mode"] = "free_only"
                    if provider:
                        arguments["provider"] = provider
                    outcomes.append(await s.call("route_and_complete", **arguments))
                    s.clock.advance(seconds=31)  # past any cooldown the fault left
                costs = await s.app.store.fetchall(
                    "SELECT COALESCE(SUM(cost_nusd), 0), COALESCE(SUM(est_cost_nusd), 0) FROM reservations", ()
                )
                attempt_cost = await _scalar(s, "SELECT COALESCE(SUM(cost_nusd), 0) FROM attempts")
    served = [o.structured_content for o in outcomes if not o.is_error]
    assert served and all(o is not None and o["cost_usd"] == 0 and o["provider"] == "google" for o in served)
    assert [tuple(row) for row in costs] == [(0, 0)] and attempt_cost == 0
    assert all(sim.stats(provider).requests == 0 for provider in paid)
    refusals = [text_of(o) for o in outcomes if o.is_error]
    assert all("free_only" in text or "budget_mode" in text for text in refusals), json.dumps(refusals[:2])
    tally.record("requests", len(outcomes), test="free_only")
