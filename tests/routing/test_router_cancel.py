"""Time limits and the caller going away: per-attempt timeout, overall deadline, cancellation, Retry-After waits,
the shared round-robin cursor, and the writes a plain success spares."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from routing.results import NoRouteAvailable, RouteResult
from server.wiring.app import App, open_app
from tests.clock import FixedClock
from tests.harness import ENV, simulated_home
from tests.routing.e2e import Routed, ask, routed

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function"


async def until_received(world: Routed, account: str, count: int = 1) -> None:
    """Wait (bounded by the caller's fail_after) until the simulator has received `count` requests for `account`."""
    while world.sim.stats(account).requests < count:
        await anyio.sleep(0.005)


async def test_cancelling_a_request_cancels_the_upstream_call_and_releases_its_reservation(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.set_down("openai", "timeout")  # the simulator never answers
        results: list[RouteResult] = []

        async def call() -> None:
            results.append(await world.app.router.route(ask(CODING, task_type="coding")))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await until_received(world, "openai")
                assert await world.pending() == 1
                tg.cancel_scope.cancel()
        assert results == []
        assert await world.pending() == 0
        assert world.requests("anthropic") == 0  # no failover once the caller is gone
        logged = await world.app.decisions.recent(1)
        assert [(a.provider, a.outcome) for a in logged[0].attempts] == [("openai", "cancelled")]


async def test_the_overall_deadline_stops_a_request_and_releases_its_reservation(tmp_path: Path) -> None:
    async with routed(tmp_path, settings={"requestTimeoutS": 30, "deadlineS": 0.3}) as world:
        world.sim.set_down("openai", "timeout")
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert "the deadline of 0.3 s passed" in str(caught.value)
        assert [(a.provider, a.outcome) for a in caught.value.attempts] == [("openai", "cancelled")]
        assert await world.pending() == 0


async def test_a_retry_after_longer_than_the_router_waits_fails_at_once(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False) as world:
        world.sim.configure("openai", retry_after_s=60)
        world.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as caught:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert world.waits == []
        assert len(caught.value.attempts) == 1


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(tmp_path: Path) -> None:
    async with routed(tmp_path, autoSwitch=False, settings={"deadlineS": 5}) as world:
        world.sim.configure("openai", retry_after_s=10)
        world.sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable):
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert world.waits == []


async def test_the_pool_cursor_moves_past_the_account_that_actually_served(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        world.sim.script("google-1", ["server_error"])
        served = []
        with anyio.fail_after(20):
            for n in range(4):
                result = await world.app.router.route(ask(f"Summarize line {n}", task_type="simple"))
                served.append(result.account)
            # google-1 cools down for 10 s: the other two alternate, never one twice in a row
            assert served == ["google-2", "google-3", "google-2", "google-3"]
            world.clock.advance(seconds=11)
            preview = await world.app.router.preview(ask("Summarize again", task_type="simple"))
            assert preview.account == "google-1"  # dry_run shows the account the rotation will use
            result = await world.app.router.route(ask("Summarize again", task_type="simple"))
        assert result.account == "google-1"


async def test_a_plain_success_writes_no_account_state(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        with anyio.fail_after(10):
            await world.app.router.route(ask(CODING, task_type="coding"))
        rows = await world.app.store.fetchall("SELECT COUNT(*) FROM account_state")
        assert next(iter(rows))[0] == 0


async def test_two_processes_sharing_the_store_drain_a_pool_evenly(tmp_path: Path) -> None:
    clock = FixedClock()
    async with (
        simulated_home(tmp_path, clock) as (_sim, paths),
        open_app(paths, ENV, clock=clock) as one,
        open_app(paths, ENV, clock=clock) as two,
    ):
        served: list[str] = []

        async def serve(app: App, n: int) -> None:
            result = await app.router.route(ask(f"Summarize line {n}", task_type="simple"))
            served.append(result.account)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(30):
                    tg.start_soon(serve, one if n % 2 else two, n)
    assert sorted(Counter(served).values()) == [10, 10, 10]
