"""Two `serve --http` processes on one router.db, or on one PostgreSQL database, each with several clients: the
ledger's reservations hold across processes and members (a 20-a-day account, a member's small daily cap), and a node
killed mid-request loses no row.

The servers run on the machine's clock (libfaketime moves it with the test run); the simulator on a fixed one.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from providers.simulator import Simulator
from storage.ledger import DEFAULT_TTL, reap_job
from tests.clock import FixedClock
from tests.harness import seed_lineup, write_config
from tests.server.mcp.http_support import (
    DAILY,
    PAID,
    http_client,
    member_tokens,
    node,
    node_store,
    paid_only_config,
)

pytestmark = pytest.mark.anyio

MEMBERS = ("alpha", "bravo", "charlie", "delta")
#: alpha's daily cap: below one call's worst case (~$0.057 here), so the cap refuses alpha's calls on both nodes
#: while the other members share the account
ALPHA_CAP = 0.02
CALLS_PER_CLIENT = 5


async def _client(url: str, token: str, n: int, served: list[str], refused: list[str], member: str) -> None:
    async with http_client(url, token) as client:
        for i in range(CALLS_PER_CLIENT):
            result = await client.call_tool(
                "route_and_complete", {"prompt": f"Write test {n}.{i}", "task_type": "coding"}
            )
            (refused if result.is_error else served).append(member)


async def test_two_nodes_serve_exactly_the_account_s_daily_quota_and_no_member_spends_past_their_cap(
    tmp_path: Path, database: dict[str, str]
) -> None:
    clock = FixedClock()
    home = tmp_path / "home"
    async with Simulator(seed_lineup().accounts(), clock=clock.epoch) as sim:
        paths = write_config(home, paid_only_config(sim))
        caps = {name: ALPHA_CAP if name == "alpha" else None for name in MEMBERS}
        tokens = await member_tokens(paths, clock, caps, database)
        served: list[str] = []
        refused: list[str] = []
        async with node(home, database) as first, node(home, database) as second:
            with anyio.fail_after(180):
                async with anyio.create_task_group() as group:
                    for n, (url, member) in enumerate((u, m) for u in (first.url, second.url) for m in MEMBERS):
                        group.start_soon(_client, url, tokens[member], n, served, refused, member)
        async with await node_store(paths, database) as store:
            settled = await store.fetchall(
                "SELECT member, COUNT(*), SUM(cost_nusd) FROM reservations WHERE state = 'settled' GROUP BY member"
            )
            counters = await store.fetchall(
                "SELECT member, cost_nusd FROM member_counters WHERE period LIKE '____-__-__'"
            )
            decisions = await store.fetchall("SELECT member, COUNT(*) FROM decisions GROUP BY member")
            capped = await store.fetchall("SELECT COUNT(*) FROM decisions WHERE scores LIKE '%member:alpha%'")
            answered = await store.fetchall("SELECT COUNT(*) FROM attempts WHERE outcome = 'success'")
    assert len(served) == DAILY
    assert sim.stats(PAID).requests == DAILY
    assert len(refused) == len(MEMBERS) * 2 * CALLS_PER_CLIENT - DAILY
    assert sum(row[1] for row in settled) == DAILY and answered[0][0] == DAILY
    # every request is in the log, attributed to its member
    assert {row[0]: row[1] for row in decisions} == dict.fromkeys(MEMBERS, 2 * CALLS_PER_CLIENT)
    alpha_spent = sum(row[2] for row in settled if row[0] == "alpha") / 1e9
    assert alpha_spent <= ALPHA_CAP
    assert alpha_spent == 0 and capped[0][0] >= 1
    assert {row[0]: row[1] for row in counters}.get("alpha", 0) / 1e9 == pytest.approx(alpha_spent)
    assert {row[0] for row in settled} <= set(MEMBERS)


async def test_a_node_killed_mid_request_leaves_a_reservation_that_expires_and_loses_no_row(
    tmp_path: Path, database: dict[str, str]
) -> None:
    clock = FixedClock()
    home = tmp_path / "home"
    async with Simulator(seed_lineup().accounts(), clock=clock.epoch) as sim:
        paths = write_config(home, paid_only_config(sim))
        tokens = await member_tokens(paths, clock, {"alpha": None}, database)
        async with node(home, database) as doomed, node(home, database) as survivor:
            async with http_client(doomed.url, tokens["alpha"]) as client:
                done = await client.call_tool("route_and_complete", {"prompt": "Write a test", "task_type": "coding"})
                assert not done.is_error
            sim.configure(PAID, latency_ms=60_000)

            lost: list[Exception] = []

            async def hang() -> None:
                try:
                    async with http_client(doomed.url, tokens["alpha"]) as client:
                        await client.call_tool(
                            "route_and_complete", {"prompt": "Write a slow test", "task_type": "coding"}
                        )
                except Exception as error:  # the node died under the call: its connection dropped
                    lost.append(error)

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(hang)
                    while sim.stats(PAID).requests < 2:  # the call reached the provider: its reservation is held
                        await anyio.sleep(0.01)
                    os.kill(doomed.process.pid, signal.SIGKILL)
                    await doomed.process.wait()
            sim.configure(PAID, latency_ms=0)
            async with http_client(survivor.url, tokens["alpha"]) as client:
                after = await client.call_tool("route_and_complete", {"prompt": "Write another", "task_type": "coding"})
                assert not after.is_error
        async with await node_store(paths, database) as store:
            states = dict(await store.fetchall("SELECT state, COUNT(*) FROM reservations GROUP BY state"))
            expired = await store.write(reap_job(datetime.now(UTC) + DEFAULT_TTL))
            decisions = await store.fetchall("SELECT member FROM decisions")
            check = await store.integrity_check()
    assert len(lost) == 1
    assert states == {"settled": 2, "pending": 1}
    assert expired == 1
    assert [row[0] for row in decisions] == ["alpha", "alpha"]
    assert check == ["ok"]
