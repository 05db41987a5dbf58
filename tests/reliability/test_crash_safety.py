"""SIGKILL of a `python -m server.serve` in the middle of requests, then a new server on the same database.

Kill points, each in its own round on one database: while every call waits on the provider (the simulator's
latency), just as the provider's answers come back (the settle and decision-log writes race the kill), and right
after one tool reply while the others are in flight. After the rounds: the file passes integrity and foreign-key
checks, every answer a client received still has its decision, attempts, settled reservation and conversation
(rows lost: 0), counters agree with the settled reservations, no attempt row is half-written, and the reservations
the dead processes left pending expire within the ledger's TTL and stop counting after it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from providers.simulator import Simulator
from server.config.paths import Paths
from server.wiring.app import open_app
from storage import Store
from storage.ledger import DEFAULT_TTL, reap_job
from tests.clock import fixed_epoch
from tests.harness import ENV, write_config
from tests.reliability import tally
from tests.reliability.stdio import RawServer, raw_server
from tests.reliability.support import BACKUP, matrix_accounts, matrix_config

pytestmark = pytest.mark.anyio

LATENCY_MS = 250
IN_FLIGHT = 6
SLOW_ROUNDS = 12
#: answers at once: the call whose reply comes just before the kill
QUICK = "openai"
#: while every call waits on the provider; as the answers come back (the settle and log writes race the kill);
#: right after one tool reply (None)
KILL_POINTS: tuple[float | None, ...] = (0.05, LATENCY_MS / 1000 + 0.005, None)


@dataclass
class Crashes:
    """What the rounds did: the answers clients received (decision ids) and how many calls died with a server."""

    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    killed_calls: int = 0
    rounds: int = 0
    lost: int = 0


async def _call(server: RawServer, n: int, crashes: Crashes, **pin: str) -> None:
    arguments = {"prompt": f"Write test number {n}", "task_type": "coding", **pin}
    try:
        result = await server.call("route_and_complete", arguments)
    except EOFError:
        crashes.killed_calls += 1
        return
    assert not result.get("isError"), result
    crashes.acknowledged.append(result["structuredContent"])


async def _arrived(sim: Simulator, count: int) -> None:
    while sim.stats(BACKUP).requests < count:
        await anyio.sleep(0.005)


async def _round(home: Path, sim: Simulator, crashes: Crashes, kill_after_s: float | None) -> None:
    """Start a server, get one answer, start IN_FLIGHT calls, kill the server at the chosen point."""
    async with raw_server(home, ENV) as server:
        with anyio.fail_after(30):
            # the server starts on whatever the previous kill left, and serves
            try:
                first = await server.call("route_and_complete", {"prompt": "Write a test", "task_type": "coding"})
            except EOFError:
                pytest.fail(f"the restarted server died: {server.stderr.decode(errors='replace')[-3000:]}")
            assert not first.get("isError"), first
            crashes.acknowledged.append(first["structuredContent"])
            before = sim.stats(BACKUP).requests
            if kill_after_s is None:
                sim.configure(BACKUP, latency_ms=LATENCY_MS * 20)
            async with anyio.create_task_group() as group:
                for n in range(IN_FLIGHT):
                    group.start_soon(_call, server, n + 1, crashes)
                await _arrived(sim, before + IN_FLIGHT)
                if kill_after_s is None:  # right after a reply (from another provider), the others in flight
                    await _call(server, 99, crashes, provider=QUICK)
                else:
                    await anyio.sleep(kill_after_s)
                server.kill()
            sim.configure(BACKUP, latency_ms=LATENCY_MS)
    crashes.rounds += 1


async def _scalar(app: Any, sql: str, *args: Any) -> Any:
    rows = await app.store.fetchall(sql, args)
    return next(iter(rows))[0]


async def _count_lost(app: Any, crashes: Crashes) -> int:
    """How many acknowledged answers lost a row (must be 0)."""
    lost = 0
    for out in crashes.acknowledged:
        logged = await app.decisions.get(out["decision_id"])
        conversation = await app.conversations.get(out["conversation_id"])
        if logged is None or [a.outcome for a in logged.attempts] != ["success"] or conversation is None:
            lost += 1
    return lost


async def test_killed_servers_leave_no_corruption_no_lost_rows_and_no_lasting_reservation(tmp_path: Path) -> None:
    crashes = Crashes()
    await crash_rounds(tmp_path, crashes, KILL_POINTS)
    assert crashes.rounds == len(KILL_POINTS)
    assert crashes.killed_calls >= 2 * IN_FLIGHT
    assert len(crashes.acknowledged) >= len(KILL_POINTS) + 1
    assert crashes.lost == 0


@pytest.mark.slow
async def test_many_kills_at_random_points_leave_a_sound_database(tmp_path: Path) -> None:
    randomly = random.Random(8)
    points = tuple(randomly.uniform(0, LATENCY_MS * 1.2 / 1000) for _ in range(SLOW_ROUNDS))
    crashes = Crashes()
    await crash_rounds(tmp_path, crashes, (*points, None))
    assert crashes.rounds == SLOW_ROUNDS + 1 and crashes.lost == 0


async def crash_rounds(home: Path, crashes: Crashes, kill_points: Sequence[float | None]) -> None:
    """A server killed at each point in turn on one database; then the database is checked (see the docstring)."""
    async with Simulator(matrix_accounts(latency_ms=LATENCY_MS), clock=fixed_epoch) as sim:
        sim.configure(QUICK, latency_ms=0)
        write_config(home, matrix_config(sim))
        for kill_after_s in kill_points:
            await _round(home, sim, crashes, kill_after_s)
        killed_at = await _last_reservation_time(home)
        async with open_app(Paths.in_home(home), ENV, clock=lambda: killed_at) as app:
            assert await _scalar(app, "PRAGMA integrity_check") == "ok"
            assert await app.store.fetchall("PRAGMA foreign_key_check") == []
            crashes.lost = await _count_lost(app, crashes)
            tally.record("kills", crashes.rounds, test="crash safety")
            tally.record("rows_lost", crashes.lost, test="crash safety")
            tally.record("requests", len(crashes.acknowledged) + crashes.killed_calls, test="crash safety")
            await _check_ledger(app, killed_at)
            await _check_attempts(app)


async def _check_attempts(app: Any) -> None:
    # a decision names the provider that served it only with that success attempt beside it (one transaction)
    orphans = await _scalar(
        app,
        "SELECT COUNT(*) FROM decisions d WHERE d.provider IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM attempts a WHERE a.decision_id = d.id AND a.outcome = 'success')",
    )
    assert orphans == 0
    incomplete = await _scalar(
        app,
        "SELECT COUNT(*) FROM attempts WHERE outcome = 'success' AND (input_tokens <= 0 OR output_tokens <= 0)",
    )
    assert incomplete == 0
    # every answered attempt was settled: the success attempts never outnumber the settled reservations
    successes = await _scalar(app, "SELECT COUNT(*) FROM attempts WHERE outcome = 'success'")
    settled = await _scalar(app, "SELECT COUNT(*) FROM reservations WHERE state = 'settled'")
    assert successes <= settled


async def _last_reservation_time(home: Path) -> datetime:
    """When the servers (on the run's moving test clock, not this test's fixed one) last reserved: the audit's
    "now"."""
    async with await Store.open(Paths.in_home(home).db_file) as store:
        rows = await store.fetchall("SELECT MAX(created_at) FROM reservations")
    return datetime.fromtimestamp(next(iter(rows))[0] / 1000, UTC) + timedelta(seconds=1)


async def _check_ledger(app: Any, killed_at: datetime) -> None:
    rows = await app.store.fetchall(
        "SELECT created_at, expires_at FROM reservations WHERE state = 'pending' ORDER BY expires_at"
    )
    pending = [(datetime.fromtimestamp(c / 1000, UTC), datetime.fromtimestamp(e / 1000, UTC)) for c, e in rows]
    assert pending, "the kills left no reservation pending: the test did not hit a call in flight"
    assert all(expires - created == DEFAULT_TTL for created, expires in pending)
    settled = await _scalar(app, "SELECT COUNT(*) FROM reservations WHERE state = 'settled'")
    counted = await _scalar(app, "SELECT requests FROM usage_counters WHERE account = '' AND period LIKE '____-__-__'")
    settled_cost = await _scalar(app, "SELECT COALESCE(SUM(cost_nusd), 0) FROM reservations WHERE state = 'settled'")
    counted_cost = await _scalar(
        app, "SELECT cost_nusd FROM usage_counters WHERE account = '' AND period LIKE '____-__-__'"
    )
    assert (counted, counted_cost) == (settled, settled_cost)
    accounts = [a for p in app.config.providers.values() for a in p.accounts]
    snapshot = await app.ledger.snapshot(accounts, killed_at)
    live = sum(snapshot.accounts[a.id].usage.day.requests for a in accounts)
    assert live == settled + len(pending)  # the dead processes' reservations still hold room...
    after = pending[-1][1] + timedelta(milliseconds=1)
    assert after - killed_at <= DEFAULT_TTL + timedelta(minutes=1)
    snapshot = await app.ledger.snapshot(accounts, after)
    assert (
        sum(snapshot.accounts[a.id].usage.day.requests for a in accounts) == settled
    )  # ...until they expire, then they count nothing
    assert await app.store.write(reap_job(after)) == len(pending)
    assert await _scalar(app, "SELECT COUNT(*) FROM reservations WHERE state = 'pending'") == 0
