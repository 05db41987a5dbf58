"""The speed figures in the shared ledger (storage/latency.py): decaying estimates, the recent window's
percentiles and failure ratio, each pool's sequence, and the output size per task type; kept across a restart."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from storage.db import Store
from storage.latency import STALE_AFTER, observe_job, percentile, read_speeds_job, stale_in_store_after
from storage.migrations import migrate
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio


async def observe(store: Store, account: str, ttft: float | None, rate: float | None = 100.0, ok: bool = True) -> None:
    job = observe_job(
        "google", "m", account, ok=ok, ttft_ms=ttft, tokens_per_s=rate, task_type="simple", output_tokens=400, now=NOW
    )
    await store.write(job)


async def test_the_decaying_estimate_moves_halfway_to_each_new_sample(store: Store) -> None:
    await migrate(store)
    for ttft in (100.0, 900.0):
        await observe(store, "g1", ttft)
    row = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    assert row.samples == 2 and row.ttft_ewma_ms == 500.0
    assert (row.ttft_p50_ms, row.ttft_p95_ms, row.last_ttft_ms) == (100.0, 900.0, 900.0)


async def test_failures_count_in_the_recent_ratio_and_each_pool_has_its_own_sequence(store: Store) -> None:
    await migrate(store)
    await observe(store, "g1", 100.0)
    await observe(store, "g1", None, None, ok=False)
    await observe(store, "g2", 100.0)
    await store.write(observe_job("zai", "z", "zai", ok=True, ttft_ms=50.0, tokens_per_s=None, task_type=None,
                                  output_tokens=0, now=NOW))  # fmt: skip
    speeds = await store.read(read_speeds_job())
    assert speeds.rows["google", "m", "g1"].failure_ratio == 0.5
    assert (speeds.rows["google", "m", "g1"].seq, speeds.rows["google", "m", "g2"].seq) == (2, 3)
    assert speeds.last_seq == {("google", "m"): 3, ("zai", "z"): 1}
    assert speeds.output_tokens == {"simple": 400.0}


async def test_a_stale_estimate_restarts_from_the_next_sample_instead_of_blending_it_in(store: Store) -> None:
    await migrate(store)
    await observe(store, "g1", 800.0, 50.0)
    for _ in range(STALE_AFTER - 1):
        await observe(store, "g2", 100.0)
    await observe(store, "g1", 600.0, 100.0)  # not stale yet: blended
    for _ in range(STALE_AFTER):
        await observe(store, "g2", 100.0)
    await observe(store, "g1", 100.0, 400.0)  # stale: the probe's sample is the estimate
    row = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    assert (row.ttft_ewma_ms, row.tokens_per_s, row.samples) == (100.0, 400.0, 3)


async def observe_in(
    store: Store, provider: str, model: str, account: str, ttft: float, rate: float = 100.0, *, max_speed: bool = True
) -> None:
    await store.write(observe_job(provider, model, account, ok=True, ttft_ms=ttft, tokens_per_s=rate, task_type=None,
                                  output_tokens=0, now=NOW, max_speed=max_speed))  # fmt: skip


async def test_the_store_wide_sequence_counts_every_max_speed_observation_across_pools(store: Store) -> None:
    await migrate(store)
    await observe_in(store, "google", "m", "g1", 100.0)
    await observe_in(store, "zai", "z", "zai", 100.0)
    await observe_in(store, "google", "m", "g2", 100.0)
    speeds = await store.read(read_speeds_job())
    keys = (("google", "m", "g1"), ("zai", "z", "zai"), ("google", "m", "g2"))
    assert [speeds.rows[key].store_seq for key in keys] == [1, 2, 3]
    assert speeds.store_last == 3
    assert speeds.rows["zai", "z", "zai"].seq == 1  # the pool's own sequence is unchanged


async def test_calls_routed_outside_max_speed_do_not_age_an_estimate_in_the_store_but_bring_their_own_up_to_date(
    store: Store,
) -> None:
    await migrate(store)
    await observe_in(store, "zai", "z", "zai", 3000.0, 20.0)
    for _ in range(5 * stale_in_store_after(2)):  # a store of balanced traffic: only max_speed can starve a provider
        await observe_in(store, "google", "m", "g1", 100.0, max_speed=False)
    speeds = await store.read(read_speeds_job())
    assert speeds.store_last == 1 and not speeds.stale_in_store(speeds.rows["zai", "z", "zai"])
    for _ in range(stale_in_store_after(2)):
        await observe_in(store, "google", "m", "g1", 100.0)
    await observe_in(store, "google", "m", "g2", 100.0, max_speed=False)
    speeds = await store.read(read_speeds_job())
    assert speeds.rows["google", "m", "g2"].store_seq == speeds.store_last  # measured now, whatever the mode
    assert speeds.stale_in_store(speeds.rows["zai", "z", "zai"])


async def test_a_pool_of_one_goes_stale_in_the_store_after_its_share_and_restarts_from_its_next_sample(
    store: Store,
) -> None:
    await migrate(store)
    await observe_in(store, "zai", "z", "zai", 3000.0, 20.0)
    after = stale_in_store_after(2)  # two pools measured: zai/z and google/m
    assert after == 2 * STALE_AFTER
    for _ in range(after - 1):
        await observe_in(store, "google", "m", "g1", 100.0)
    speeds = await store.read(read_speeds_job())
    assert not speeds.stale_in_store(speeds.rows["zai", "z", "zai"])
    await observe_in(store, "google", "m", "g1", 100.0)
    speeds = await store.read(read_speeds_job())
    assert speeds.stale_in_store(speeds.rows["zai", "z", "zai"])
    assert not speeds.stale_in_store(speeds.rows["google", "m", "g1"])
    await observe_in(store, "zai", "z", "zai", 150.0, 400.0)  # the probe's sample
    row = (await store.read(read_speeds_job())).rows["zai", "z", "zai"]
    assert (row.ttft_ewma_ms, row.tokens_per_s, row.samples) == (150.0, 400.0, 2)


async def test_a_row_from_before_the_store_wide_sequence_goes_stale_only_after_new_observations(store: Store) -> None:
    await migrate(store)
    await store.execute(
        "INSERT INTO latency_stats (provider, model, account, samples, ttft_ewma_ms, tps_ewma, recent, seq, updated_at)"
        " VALUES ('zai', 'z', 'zai', 3, 900.0, 50.0, '[]', 3, 0)"
    )
    speeds = await store.read(read_speeds_job())
    assert speeds.rows["zai", "z", "zai"].store_seq == 0 and not speeds.stale_in_store(speeds.rows["zai", "z", "zai"])
    for _ in range(stale_in_store_after(2)):
        await observe_in(store, "google", "m", "g1", 100.0)
    speeds = await store.read(read_speeds_job())
    assert speeds.stale_in_store(speeds.rows["zai", "z", "zai"])


async def test_another_process_and_a_restart_read_the_same_figures(open_store: Callable[..., Awaitable[Store]]) -> None:
    async with await open_store() as first, await open_store() as second:
        await migrate(first)
        await observe(first, "g1", 250.0)
        assert (await second.read(read_speeds_job())).rows["google", "m", "g1"].ttft_ewma_ms == 250.0
    async with await open_store() as again:
        assert (await again.read(read_speeds_job())).rows["google", "m", "g1"].samples == 1


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 95) is None
    assert percentile([float(n) for n in range(1, 21)], 95) == 19.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


async def test_each_read_shows_the_latest_observation_of_a_row_read_before(store: Store) -> None:
    await migrate(store)
    await observe(store, "g1", 100.0)
    first = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    again = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    await observe(store, "g1", None, None, ok=False)
    after = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    assert again == first and (first.samples, first.failure_ratio) == (1, 0.0)
    assert (after.samples, after.failure_ratio, after.last_ttft_ms) == (2, 0.5, 100.0)


async def test_a_window_holding_a_non_finite_sample_is_read_and_written_back_as_the_standard_library_wrote_it(
    store: Store,
) -> None:
    await migrate(store)
    await observe(store, "g1", 100.0, float("inf"))
    await observe(store, "g1", 300.0)
    rows = await store.fetchall("SELECT recent FROM latency_stats")
    assert rows[0][0] == "[[100.0, Infinity, 1], [300.0, 100.0, 1]]"
    row = (await store.read(read_speeds_job())).rows["google", "m", "g1"]
    assert (row.ttft_p50_ms, row.ttft_p95_ms, row.last_tokens_per_s) == (100.0, 300.0, 100.0)


async def test_a_finite_window_reads_back_the_same_samples_it_was_given(store: Store) -> None:
    await migrate(store)
    for ttft in (1.7409999999999999, 2.2, 0.1 + 0.2):
        await observe(store, "g1", ttft, 46242.774566473985)
    recent = (await store.fetchall("SELECT recent FROM latency_stats"))[0][0]
    assert json.loads(recent) == [[t, 46242.774566473985, 1] for t in (1.7409999999999999, 2.2, 0.1 + 0.2)]
