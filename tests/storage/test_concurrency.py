"""Several processes share one router.db: quotas and budgets stay exact, nothing is lost, crashes leave it sound.

Each test starts real processes (`tests/storage/worker.py`); the clock is injected, nothing sleeps.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from subprocess import PIPE
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from providers.models import QuotaSpec
from storage.ledger import Ledger, Refused, Reservation, reap_job
from tests.storage import worker
from tests.storage.worker import open_target

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the processes meet: one router.db file, or one PostgreSQL database (the processes are its nodes)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres").create_database())
    return str(tmp_path / "router.db")


class Child:
    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None and process.stdin is not None
        self._stdout = BufferedByteReceiveStream(process.stdout)

    async def line(self) -> str:
        try:
            return (await self._stdout.receive_until(b"\n", 1 << 20)).decode()
        except (anyio.IncompleteRead, anyio.EndOfStream):
            assert self.process.stderr is not None
            errors = b"".join([chunk async for chunk in self.process.stderr])
            raise AssertionError(f"worker died: {errors.decode()}") from None

    async def send(self, text: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(text.encode() + b"\n")


@asynccontextmanager
async def children(db: str, mode: str, args: list[dict[str, Any]]) -> AsyncIterator[list[Child]]:
    async with AsyncExitStack() as stack:
        started = []
        for arg in args:
            process = await anyio.open_process(
                [sys.executable, "-m", "tests.storage.worker", mode, str(db), json.dumps(arg)],
                cwd=ROOT,
                stdin=PIPE,
                stdout=PIPE,
                stderr=PIPE,
            )
            await stack.enter_async_context(process)
            started.append(Child(process))
        yield started


async def run_together(db: str, mode: str, args: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start the workers, let them open the store, release them at once, collect their JSON results."""
    async with children(db, mode, args) as started:
        for child in started:
            assert await child.line() == "ready"
        for child in started:
            await child.send("go")
        results = [json.loads(await child.line()) for child in started]
        for child in started:
            assert await child.process.wait() == 0
    return results


async def test_four_processes_never_overspend_or_overuse_a_shared_account(target: str) -> None:
    db = target
    async with await open_target(db):
        pass
    iterations = 90  # 360 tries in all: 120 per account, twice what the limits allow
    with anyio.fail_after(60):
        results = await run_together(db, "hammer", [{"seed": i, "iterations": iterations} for i in range(PROCESSES)])
    granted: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for result in results:
        granted.update(result["granted"])
        spent.update(result["spent_nusd"])
    assert granted["by-requests"] == 60
    budget_nusd, global_nusd = 1_000_000_000, int(worker.GLOBAL_DAILY_USD * 1e9)
    assert 0 < spent["by-budget"] <= budget_nusd
    assert granted["by-budget"] < PROCESSES * iterations // 3  # the budget, not the tries, ran out
    assert 0 < sum(spent.values()) <= global_nusd
    assert granted["by-global-budget"] < PROCESSES * iterations // 3
    async with await open_target(db) as store:
        assert await store.integrity_check() == ["ok"]
        assert list(await store.fetchall("SELECT COUNT(*) FROM decisions")) == [(PROCESSES * iterations,)]
        assert list(await store.fetchall("SELECT COUNT(*) FROM attempts")) == [(sum(granted.values()),)]
        snapshot = await Ledger(store).snapshot(worker.ACCOUNTS, worker.NOW)
    assert snapshot.accounts["by-requests"].usage.day.requests == 60
    assert round(snapshot.accounts["by-budget"].usage.day.cost_usd * 1e9) == spent["by-budget"]
    assert round(snapshot.global_usage.day.cost_usd * 1e9) == sum(spent.values())


async def test_four_processes_rotate_through_a_pool_evenly(target: str) -> None:
    db = target
    async with await open_target(db):
        pass
    pool = ["g1", "g2", "g3", "g4"]
    with anyio.fail_after(60):
        results = await run_together(db, "rotate", [{"pool": pool, "turns": 25}] * PROCESSES)
    chosen = Counter(name for result in results for name in result["chosen"])
    assert chosen == dict.fromkeys(pool, 25)


async def test_a_process_killed_holding_a_reservation_leaves_it_to_expire(target: str) -> None:
    db = target
    with anyio.fail_after(30):
        async with children(db, "hold", [{"ttl_minutes": 5}]) as (child,):
            assert (await child.line()).startswith("reserved ")
            child.process.send_signal(signal.SIGKILL)
            assert await child.process.wait() == -signal.SIGKILL
        async with await open_target(db, busy_timeout_ms=1000) as store:
            assert await store.integrity_check() == ["ok"]
            ledger = Ledger(store)
            account = worker.ACCOUNTS[0].model_copy(update={"id": "held", "quota": QuotaSpec(requests_per_day=1)})

            async def reserve(minutes: float) -> Reservation | Refused:
                now = worker.NOW + timedelta(minutes=minutes)
                return await store.write(
                    ledger.reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=now)
                )

            refused = await reserve(4.9)
            assert isinstance(refused, Refused) and refused.limit == "requests_per_day"
            assert isinstance(await reserve(5), Reservation)
            assert await store.write(reap_job(worker.NOW + timedelta(minutes=5))) == 1


async def test_a_process_killed_inside_a_write_transaction_leaves_no_trace_and_no_lock(target: str) -> None:
    db = target
    with anyio.fail_after(30):
        async with children(db, "hold-transaction", [{}]) as (child,):
            assert await child.line() == "in-transaction"
            child.process.send_signal(signal.SIGKILL)
            assert await child.process.wait() == -signal.SIGKILL
        # A short busy timeout: a lock left behind would make this fail, not wait.
        async with await open_target(db, busy_timeout_ms=200) as store:
            assert await store.integrity_check() == ["ok"]
            assert list(await store.fetchall("SELECT COUNT(*) FROM reservations")) == [(0,)]
            account = worker.ACCOUNTS[0].model_copy(update={"id": "held"})
            held = await store.write(
                Ledger(store).reserve_job(account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=worker.NOW)
            )
            assert isinstance(held, Reservation)
