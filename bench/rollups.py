"""Part 10: the `costs` and `performance` views over a ledger holding a year of traffic, read from the raw rows
(nothing rolled up yet) and from the daily roll-ups (every complete day rolled up, today raw), then after
retention pruned everything older than 30 days in bounded batches; with the time the first roll-up of the year and
the prune took."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bench.common import Options, Section, spread
from bench.fixtures import MODEL, bench_app, single_provider_config
from server.views import costs_report, flow_report, performance_report
from server.wiring import App
from storage.connection import Connection
from storage.retention import RETENTION_BATCH, prune_decisions
from storage.rollups import Rollups
from storage.windows import to_ms

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
PROVIDERS = ("openai", "anthropic", "google")
TASKS = ("coding", "reasoning", "creative", "simple")


def _seed(per_day: int) -> Callable[[Connection], int]:
    """A year of decisions up to NOW (`per_day` a day), one attempt each, one in ten a failover (two attempts)."""
    rng = random.Random(18)

    def job(conn: Connection) -> int:
        decisions: list[tuple[object, ...]] = []
        attempts: list[tuple[object, ...]] = []
        for day in range(365):
            for _ in range(per_day):
                at = to_ms(NOW - timedelta(days=day, seconds=rng.randrange(86_400)))
                decision_id = len(decisions) + 1
                provider = rng.choice(PROVIDERS)
                decisions.append((decision_id, at, rng.choice(TASKS), provider, f"{rng.randrange(8)}"))
                if rng.random() < 0.1:
                    attempts.append((decision_id, at, "openai", "failed", "rate_limited", rng.uniform(20, 200)))
                attempts.append((decision_id, at + 1, provider, "success", None, rng.lognormvariate(6.5, 0.8)))
        conn.executemany(
            "INSERT INTO decisions (id, created_at, task_summary, candidates, exclusions, scores, task_type, provider, "
            "model, member) VALUES (?, ?, 't', '[]', '[]', '{}', ?, ?, 'm', 'member-' || ?)",
            decisions,
        )
        conn.executemany(
            "INSERT INTO attempts (decision_id, created_at, provider, model, account, outcome, error_class, "
            "latency_ms, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
            "cost_nusd) VALUES (?, ?, ?, 'm', 'a', ?, ?, ?, 1200, 300, 0, 0, 0, 2100000)",
            attempts,
        )
        return len(attempts)

    return job


async def _timed(call: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _views(app: App, rounds: int) -> dict[str, list[float]]:
    return {
        "costs (month)": await _timed(lambda: costs_report(app, "month"), rounds),
        "performance (month)": await _timed(lambda: performance_report(app, "month"), rounds),
        "performance (week)": await _timed(lambda: performance_report(app, "week"), rounds),
        "log --flow (month)": await _timed(lambda: flow_report(app, "month"), rounds),
    }


async def run(options: Options) -> Section:
    section = Section("rollups", "11. Reports over a year of traffic: raw rows vs daily roll-ups")
    per_day = options.pick(2000, 100)
    rounds = options.pick(5, 2)
    config = single_provider_config("http://127.0.0.1:9", model=MODEL)
    async with bench_app(config, clock=lambda: NOW) as app:
        started = time.perf_counter()
        attempts = await app.store.write(_seed(per_day))
        seeded_s = time.perf_counter() - started
        raw = await _views(app, rounds)
        started = time.perf_counter()
        days = await Rollups(app.store).roll_up(NOW, app.config.settings.timezone)
        rolled_s = time.perf_counter() - started
        rolled = await _views(app, rounds)
        started = time.perf_counter()
        pruned = await prune_decisions(app.store, NOW - timedelta(days=30))
        pruned_s = time.perf_counter() - started
        after = await _views(app, rounds)
    section.data = {"per_day": per_day, "attempts": attempts, "seed_s": seeded_s, "rollup_s": rolled_s,
                    "days_rolled": len(days), "prune_s": pruned_s, "pruned": dataclasses.asdict(pruned),
                    "raw_ms": raw, "rolled_ms": rolled, "after_prune_ms": after}  # fmt: skip
    section.add(
        f"A ledger of {per_day * 365:,} decisions over 365 days ({attempts:,} attempts; one in ten a failover), "
        f"`now` fixed at {NOW:%Y-%m-%d %H:%M} UTC, so a month is 28 days. Each view is timed {rounds} times "
        "(median [min–max], ms), first over the raw rows only, then with every complete day rolled up (today "
        "raw), then after retention (30 days) pruned the older raw rows.",
        "",
        f"The first roll-up of the whole year ({len(days)} days, one read and one short transaction a day) took "
        f"{rolled_s:.1f} s; pruning {pruned.decisions:,} decisions and {pruned.attempts:,} attempts took "
        f"{pruned_s:.1f} s in {pruned.transactions} transactions of at most {RETENTION_BATCH:,} decisions "
        f"(largest: {pruned.largest_batch:,} rows).",
        "",
    )
    section.table(
        ["view", "raw rows", "roll-ups + today raw", "after the prune", "speed-up"],
        [
            [name, spread(raw[name]).fmt(1), spread(rolled[name]).fmt(1), spread(after[name]).fmt(1),
             f"{spread(raw[name]).median / max(spread(rolled[name]).median, 1e-9):.0f}×"]
            for name in raw
        ],
    )  # fmt: skip
    return section
