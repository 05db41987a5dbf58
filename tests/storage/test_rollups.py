"""Daily roll-ups: complete days rolled once (idempotent, two processes at once), their cells equal to the raw
rows' cells, still there once retention pruned the raw rows, and filtered by member."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest

from providers.attempts import AttemptRecord
from providers.types import Usage
from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord
from storage.histogram import Latencies, percentile_of
from storage.retention import prune_decisions
from storage.rollups import Cells, Rollups, roll_up
from storage.team import attribute_decision_job
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

TZ = "Europe/Paris"
DAYS = 6


def attempt(at: datetime, outcome: str, latency: float, error_class: str | None = None) -> AttemptRecord:
    provider = "openai" if outcome != "success" else random.choice(("openai", "anthropic"))
    return AttemptRecord(
        provider=provider,
        model=f"{provider}-m",
        account=f"{provider}-1",
        outcome=outcome,  # type: ignore[arg-type]
        latency_ms=latency,
        started_at=at,
        error_class=error_class,  # type: ignore[arg-type]
        usage=Usage(input_tokens=100, output_tokens=int(latency) % 50, cache_read_tokens=10),
        cost_usd=latency / 1e6,
        ttft_ms=latency / 3 if outcome == "success" else None,
    )


async def seed(store: Store, days: int = DAYS, per_day: int = 40) -> None:
    """`per_day` decisions on each of the last `days` local days and today: some failovers, some refused, some dry
    runs, some a member's; at any hour of the day."""
    log = DecisionLog(store)
    rng = random.Random(7)
    for day in range(days, -1, -1):
        for n in range(per_day):
            at = NOW - timedelta(days=day, hours=rng.randrange(0, 24), minutes=rng.randrange(0, 60))
            kind = n % 5
            attempts = {
                0: [attempt(at, "failed", 40 + n, "rate_limited"), attempt(at, "success", 900 + 7 * n)],
                1: [],
                2: [attempt(at, "failed", 5000, "timeout")],
            }.get(kind, [attempt(at, "success", 30 + n)])
            record = DecisionRecord(task_summary="t", provider=attempts[-1].provider if attempts else None,
                                    task_type=("coding", "simple", None)[n % 3], dry_run=n == 39)  # fmt: skip
            decision = await store.write(log.record_job(record, at + timedelta(seconds=1), attempts))
            if n % 4 == 0:
                await store.write(attribute_decision_job(decision, "ada"))


def totals(cells: Cells) -> tuple[Counter[tuple[object, ...]], Counter[tuple[object, ...]]]:
    """The cells' sums per day and dimension (latencies left out: a roll-up keeps them as a histogram; raw rows are
    read in hours, roll-ups in days)."""
    attempts: Counter[tuple[object, ...]] = Counter()
    for c in cells.attempts:
        key = (c.day, c.provider, c.model, c.task_type, c.outcome, c.error_class, c.member, c.multi, c.served)
        for name, value in (("n", c.attempts), ("in", c.input_tokens), ("out", c.output_tokens),
                            ("cache", c.cache_read_tokens), ("cost", c.cost_nusd)):  # fmt: skip
            attempts[(*key, name)] += value
        attempts[(*key, "latency")] += round(c.latency_ms_sum)
    decisions: Counter[tuple[object, ...]] = Counter()
    for d in cells.decisions:
        decisions[(d.day, d.task_type, d.provider, d.outcome, d.multi, d.member)] += d.decisions
    return attempts, decisions


async def test_complete_days_are_rolled_up_once_and_read_back_as_the_raw_rows_read(store: Store) -> None:
    await seed(store)
    since, until = NOW - timedelta(days=DAYS + 1), NOW + timedelta(seconds=1)
    raw = await Rollups(store).cells(since, until, TZ)
    rolled_days = await roll_up(store, NOW, TZ)
    assert len(rolled_days) == DAYS + 1 and rolled_days == sorted(rolled_days)
    assert "2026-11-28" not in rolled_days  # today is not complete
    assert await roll_up(store, NOW, TZ) == []  # idempotent
    mixed = await Rollups(store).cells(since, until, TZ)
    assert mixed.rolled_days == tuple(rolled_days[1:])  # the first is only partly inside [since, until)
    assert totals(mixed) == totals(raw)
    assert any(not c.latencies.exact for c in mixed.attempts)
    assert all(c.daily for c in mixed.attempts if c.day in rolled_days[1:])
    assert not any(c.daily for c in raw.attempts)


async def test_rows_that_arrive_for_a_rolled_day_are_rolled_up_again(store: Store) -> None:
    await seed(store)
    since, until = NOW - timedelta(days=DAYS + 1), NOW + timedelta(seconds=1)
    await roll_up(store, NOW, TZ)
    late_at = NOW - timedelta(days=3)  # a settlement journaled while router.db was locked, replayed days later
    late = DecisionRecord(task_summary="t", provider="openai", task_type="coding")
    await store.write(DecisionLog(store).record_job(late, late_at, [attempt(late_at, "success", 321)]))
    assert totals(await Rollups(store).cells(since, until, TZ)) != totals(
        await Rollups(store).cells(since, until, TZ, rolled=False)
    )  # the roll-up has not seen it yet
    assert await roll_up(store, NOW, TZ) == ["2026-11-25"]
    assert totals(await Rollups(store).cells(since, until, TZ)) == totals(
        await Rollups(store).cells(since, until, TZ, rolled=False)
    )
    assert await roll_up(store, NOW, TZ) == []  # once caught up, nothing to redo


async def test_preferring_raw_rows_reads_roll_ups_only_for_days_retention_pruned(store: Store) -> None:
    await seed(store)
    since, until = datetime.fromisoformat("2026-11-21T00:00:00+01:00"), NOW + timedelta(seconds=1)
    await roll_up(store, NOW, TZ)
    assert (await Rollups(store).cells(since, until, TZ, prefer_raw=True)).rolled_days == ()
    await prune_decisions(store, NOW - timedelta(days=2))
    cells = await Rollups(store).cells(since, until, TZ, prefer_raw=True)
    assert cells.rolled_days == ("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26")
    assert totals(cells) == totals(await Rollups(store).cells(since, until, TZ))


async def test_a_day_is_rolled_up_only_an_hour_after_it_ends(store: Store) -> None:
    await seed(store, days=1, per_day=5)
    midnight = datetime.fromisoformat("2026-11-28T00:00:00+01:00")
    assert "2026-11-27" not in await roll_up(store, midnight + timedelta(minutes=59), TZ)
    assert await roll_up(store, midnight + timedelta(hours=1), TZ) == ["2026-11-27"]


async def test_two_processes_rolling_at_once_roll_each_day_once(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path) as first, await Store.open(path) as second:
        await seed(first, per_day=10)
        results: list[list[str]] = []

        async def roll(store: Store) -> None:
            results.append(await roll_up(store, NOW, TZ))

        async with anyio.create_task_group() as tg:
            tg.start_soon(roll, first)
            tg.start_soon(roll, second)
        days = await first.fetchall("SELECT COUNT(*), COUNT(DISTINCT day) FROM rollup_days")
        decisions = await first.fetchall("SELECT SUM(decisions) FROM rollup_decisions")
        raw = await first.fetchall(
            "SELECT COUNT(*) FROM decisions WHERE dry_run = 0 AND created_at < "
            "(SELECT MAX(end_ms) FROM rollup_days) AND created_at >= (SELECT MIN(start_ms) FROM rollup_days)"
        )
    assert sorted(results[0] + results[1]) == sorted(set(results[0] + results[1]))
    assert days == [(DAYS + 1, DAYS + 1)]
    assert decisions == raw


async def test_rolled_days_outlive_their_pruned_raw_rows(store: Store) -> None:
    await seed(store)
    since, until = datetime.fromisoformat("2026-11-21T00:00:00+01:00"), NOW + timedelta(seconds=1)
    await roll_up(store, NOW, TZ)
    before = await Rollups(store).cells(since, until, TZ)
    pruned = await prune_decisions(store, NOW - timedelta(days=2), batch_size=50)
    assert pruned.decisions > 0
    after = await Rollups(store).cells(since, until, TZ)
    assert totals(after) == totals(before)


async def test_a_members_cells_are_only_their_decisions(store: Store) -> None:
    await seed(store)
    since, until = NOW - timedelta(days=DAYS + 1), NOW + timedelta(seconds=1)
    await roll_up(store, NOW, TZ)
    ada = await Rollups(store).cells(since, until, TZ, member="ada")
    everyone = await Rollups(store).cells(since, until, TZ)
    assert ada.decisions and {d.member for d in ada.decisions} == {"ada"}
    assert {c.member for c in ada.attempts} == {"ada"}
    assert sum(d.decisions for d in ada.decisions) < sum(d.decisions for d in everyone.decisions)
    assert await Rollups(store).cells(since, until, TZ, member="nobody") == Cells((), (), ada.rolled_days)


def test_percentiles_from_a_histogram_are_within_one_percent_of_the_exact_ones() -> None:
    rng = random.Random(3)
    values = tuple(rng.lognormvariate(6, 1.2) for _ in range(5000))
    exact = Latencies(values=values)
    approximate = Latencies(buckets=exact.histogram())
    for p in (50, 95, 99):
        want, got = percentile_of(exact, p), percentile_of(approximate, p)
        assert want is not None and got is not None
        assert abs(got - want) <= 0.01 * (want + 1)
    assert Latencies.from_json(approximate.to_json()) == approximate


def test_no_latency_has_no_percentile() -> None:
    assert percentile_of(Latencies(), 50) is None and percentile_of(Latencies(buckets={}), 99) is None


async def test_cells_of_an_empty_ledger_are_empty(store: Store) -> None:
    cells = await Rollups(store).cells(NOW - timedelta(days=3), NOW, TZ)
    assert cells == Cells((), ())
    assert await roll_up(store, NOW, TZ) == []
    assert await store.read(lambda conn: conn.execute("SELECT COUNT(*) FROM rollup_days").fetchone()) == (0,)
