"""Latency-aware routing from outside, over MCP against the loopback simulator with per-account latency profiles
(the simulator's pace moves the test clock: no sleeps)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from routing.latency import PROBE_EVERY
from storage.latency import STALE_AFTER, stale_in_store_after
from tests.server.mcp_support import Session, mcp_session

pytestmark = pytest.mark.anyio

PROMPT = "Say hello in one short sentence."
SLOW = {"ttft_ms": 1500.0, "tokens_per_s": 40.0}
FAST = {"ttft_ms": 150.0, "tokens_per_s": 400.0}


def profile(s: Session, fast: str) -> None:
    for account in ("zai", "kimi", "google-1", "google-2", "google-3", "openai", "anthropic"):
        s.sim.configure(account, **(FAST if account == fast else SLOW))


async def accounts_of(s: Session, n: int, **arguments: object) -> list[str]:
    served = []
    for i in range(n):
        out = await s.ok("route_and_complete", prompt=f"{PROMPT} ({i})", cache=False, **arguments)
        served.append(out["account"])
    return served


async def test_after_warm_up_max_speed_goes_to_the_fast_account(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        profile(s, fast="kimi")
        with anyio.fail_after(60):
            warm_up = await accounts_of(s, 8, quality="max_speed")
            after = await accounts_of(s, 5, quality="max_speed")
    assert "kimi" in warm_up
    assert after == ["kimi"] * 5


async def test_a_slowed_account_loses_its_traffic_within_a_few_requests_and_regains_it_after_recovery(
    tmp_path: Path,
) -> None:
    async with mcp_session(tmp_path, google_daily=500) as s:
        profile(s, fast="")
        for account in ("google-1", "google-2", "google-3"):
            s.sim.configure(account, **FAST)
        with anyio.fail_after(120):
            before = Counter(await accounts_of(s, 6, task_type="simple"))
            s.sim.configure("google-2", slowdown=10.0)
            await accounts_of(s, 4, task_type="simple")  # it shows within a few requests
            slowed = Counter(await accounts_of(s, 12, task_type="simple"))
            s.sim.configure("google-2", slowdown=1.0)
            await accounts_of(s, 24, task_type="simple")  # a probe sees it recover
            recovered = Counter(await accounts_of(s, 9, task_type="simple"))
    assert before == {"google-1": 2, "google-2": 2, "google-3": 2}
    assert slowed["google-2"] <= 1  # a probe now and then, nothing more
    assert slowed["google-1"] + slowed["google-3"] >= 9
    assert recovered == {"google-1": 3, "google-2": 3, "google-3": 3}  # the rotation again


async def test_under_max_speed_a_slowed_account_that_recovers_regains_its_traffic_within_a_bounded_number(
    tmp_path: Path,
) -> None:
    # slowed 4x it is slower than the other two but not 3x slower: never de-ranked, so only the stale-estimate
    # probe (routing/latency.py) can see it recover
    async with mcp_session(tmp_path, google_daily=500) as s:
        profile(s, fast="")
        s.sim.configure("google-1", ttft_ms=100.0, tokens_per_s=4000.0)
        for account in ("google-2", "google-3"):
            s.sim.configure(account, ttft_ms=250.0, tokens_per_s=4000.0)
        with anyio.fail_after(180):
            await accounts_of(s, 10, quality="max_speed", task_type="simple")  # every account learned once
            warm = await accounts_of(s, 3, quality="max_speed", task_type="simple")
            s.sim.configure("google-1", slowdown=4.0)
            await accounts_of(s, 3, quality="max_speed", task_type="simple")  # it shows within a few requests
            slowed = await accounts_of(s, PROBE_EVERY, quality="max_speed", task_type="simple")
            s.sim.configure("google-1", slowdown=1.0)
            recovering = await accounts_of(s, PROBE_EVERY + 1, quality="max_speed", task_type="simple")
            recovered = await accounts_of(s, 5, quality="max_speed", task_type="simple")
    assert warm == ["google-1"] * 3
    assert slowed.count("google-1") <= 1  # at most one probe of its stale estimate
    assert "google-1" in recovering  # the probe sees it recover...
    assert recovered == ["google-1"] * 5  # ...and max_speed traffic is back


async def test_under_max_speed_a_provider_of_one_account_that_recovers_is_probed_and_regains_its_traffic(
    tmp_path: Path,
) -> None:
    # kimi has no pool to count its neglect by: only the store-wide staleness (storage/latency.py) probes it
    served: list[tuple[str, str, str]] = []

    async def fastest(s: Session, n: int) -> list[str]:
        for _ in range(n):
            out = await s.ok(
                "route_and_complete", prompt=f"{PROMPT} ({len(served)})", cache=False, quality="max_speed",
                task_type="simple",
            )  # fmt: skip
            served.append((out["provider"], out["model"], out["account"]))
        return [account for _, _, account in served[-n:]]

    async with mcp_session(tmp_path, google_daily=1000) as s:
        profile(s, fast="kimi")
        with anyio.fail_after(240):
            await fastest(s, 10)  # every candidate learned once
            warm = await fastest(s, 3)
            s.sim.configure("kimi", slowdown=20.0)
            await fastest(s, 3)  # it shows within a few requests
            slowed = await fastest(s, 2 * STALE_AFTER)
            s.sim.configure("kimi", slowdown=1.0)
            pools = len({(provider, model) for provider, model, _ in served})
            # each stale pool is probed once its share went by; the others' probes may come first
            recovering = await fastest(s, stale_in_store_after(pools) + pools)
            recovered = await fastest(s, 5)
    assert warm == ["kimi"] * 3
    assert "kimi" not in slowed
    assert "kimi" in recovering  # the probe sees it recover...
    assert recovered == ["kimi"] * 5  # ...and max_speed traffic is back


async def test_a_hedged_call_keeps_the_account_that_streams_first_and_logs_both(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, google_daily=500) as s:
        profile(s, fast="")
        for account in ("google-1", "google-2", "google-3"):
            s.sim.configure(account, ttft_ms=60.0, tokens_per_s=400.0)
        with anyio.fail_after(60):
            await accounts_of(s, 3, task_type="simple")
            s.sim.set_down("google-1", "timeout")  # its first token never comes
            out = await s.ok("route_and_complete", prompt=PROMPT, task_type="simple", cache=False, hedge=True)
            loser = await s.app.store.fetchall(
                "SELECT state, tokens FROM reservations WHERE account = 'google-1' ORDER BY id DESC LIMIT 1"
            )
    assert out["account"] == "google-2"
    legs = {a["account"]: a["outcome"] for a in out["attempts"]}
    assert legs == {"google-1": "cancelled", "google-2": "success"}
    assert s.sim.stats("google-1").requests == 2  # the hung leg was sent, and counted
    (state, tokens), *_ = loser
    assert state == "settled" and tokens > 0  # billed at its input, not released


async def test_max_latency_s_excludes_candidates_predicted_slower_and_keeps_those_without_history(
    tmp_path: Path,
) -> None:
    async with mcp_session(tmp_path) as s:
        profile(s, fast="google-1")
        with anyio.fail_after(60):
            await accounts_of(s, 1, task_type="coding")  # openai, measured slow: 1.5 s, then 40 tokens/s
            arguments = {"task_type": "coding", "max_output_tokens": 400, "dry_run": True, "cache": False}
            out = await s.ok("route_and_complete", prompt=PROMPT, max_latency_s=5.0, **arguments)
    excluded = {(x["provider"], x["filter"]) for x in out["excluded"]}
    assert ("openai", "latency") in excluded
    assert out["provider"] == "anthropic"  # never measured: not excluded


async def test_provider_status_shows_each_accounts_measured_speed(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        profile(s, fast="kimi")
        with anyio.fail_after(60):
            await accounts_of(s, 2, provider="kimi")
            status = await s.ok("provider_status", provider="kimi")
    (account,) = status["providers"][0]["accounts"]
    (speed,) = account["speed"]
    assert speed["samples"] == 2 and speed["ttft_ms"] == 150.0 and speed["failure_ratio"] == 0.0
    assert speed["tokens_per_s"] is not None and speed["tokens_per_s"] > 0
