"""Limits and prices an upstream states, through MCP -> router -> adapter -> simulator (issue 12, items 2, 4, 13):

- a `x-ratelimit-limit-requests: 0` header locks nothing out; a plausible learned limit binds, is shown by
  `provider_status` with when it was learned, lapses after its minute, and `provider-router reset` forgets it;
- a model whose price nobody gave is paid: out of `free_only`, refused by a tiny budget, charged what the provider
  reports (`usage.cost`) or else the catalogue's highest price, and the configuration warns about it;
- what the caller reads after a 500 or a dropped connection says so, not "rate limited"; a fix names a real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from providers.catalog import load_catalog
from providers.simulator import Fault, SimAccount, Simulator
from server.cli import main
from tests.clock import fixed_epoch
from tests.harness import SIM_KEY
from tests.reliability import tally
from tests.reliability.support import Live, live, text_of

pytestmark = pytest.mark.anyio

NANO = 1_000_000_000
MODEL = "gpt-5.2"
UNPRICED = "someone/new-model"
ZERO_LIMIT = {"x-ratelimit-limit-requests": "0", "x-ratelimit-remaining-requests": "0"}


def _one_provider(sim: Simulator, provider: str, models: dict[str, Any], **preferences: Any) -> dict[str, Any]:
    block = {"baseUrl": sim.base_url(provider), "apiKey": "${SIM_KEY}", "models": models}
    return {"providers": {provider: block}, "preferences": {"default": provider, **preferences}}


async def _ask(session: Live, n: int, **arguments: Any) -> tuple[bool, str, dict[str, Any]]:
    result = await session.call("route_and_complete", prompt=f"Task {n}: say hello", max_output_tokens=32, **arguments)
    return result.is_error, text_of(result), dict(result.structured_content or {})


async def _learned(session: Live) -> list[dict[str, Any]]:
    """The limits `provider_status` shows as learned from headers, over every account."""
    status = (await session.call("provider_status")).structured_content or {}
    accounts = [a for p in status["providers"] for a in p["accounts"]]
    return [q for a in accounts for q in a["quota"] if q.get("learned_at")]


async def _scalar(session: Live, sql: str) -> Any:
    return next(iter(await session.app.store.fetchall(sql, ())))[0]


def _cli_reset(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(home))
    monkeypatch.setenv("SIM_KEY", SIM_KEY)
    return lambda: main(["reset", "--json"])


# --------------------------------------------------------------------------------------------------- item 2


async def test_a_zero_limit_header_never_locks_the_model_out(tmp_path: Path) -> None:
    account = SimAccount(id="openai", kind="openai", api_key=SIM_KEY, headers=ZERO_LIMIT)
    async with (
        Simulator([account], clock=fixed_epoch) as sim,
        live(tmp_path, sim, _one_provider(sim, "openai", {MODEL: {}})) as s,
    ):
        with anyio.fail_after(30):
            outcomes = []
            for n in range(6):
                outcomes.append(await _ask(s, n))
                s.clock.advance(seconds=20)  # across several minutes: nothing ever re-learns or frees a 0
            learned = await _learned(s)
            stored = await _scalar(s, "SELECT COUNT(learned_requests_limit) FROM account_state")
    assert [error for error, _text, _data in outcomes] == [False] * 6, [text for _e, text, _d in outcomes]
    assert sim.stats("openai").succeeded == 6
    assert learned == [] and stored == 0
    tally.record("faults", 6, test="zero limit header")


async def test_a_learned_limit_binds_shows_in_status_lapses_and_reset_forgets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two = {"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1"}
    account = SimAccount(id="openai", kind="openai", api_key=SIM_KEY, headers=two)
    reset = _cli_reset(tmp_path, monkeypatch)
    async with (
        Simulator([account], clock=fixed_epoch) as sim,
        live(tmp_path, sim, _one_provider(sim, "openai", {MODEL: {}})) as s,
    ):
        with anyio.fail_after(60):
            taught_at = s.clock.now
            assert not (await _ask(s, 1))[0]
            s.clock.advance(seconds=1)
            assert not (await _ask(s, 2))[0]
            refused, text, _ = await _ask(s, 3)
            assert refused and "requests per minute: 0 of 2 left" in text, text
            assert sim.stats("openai").requests == 2  # the third never left
            (shown,) = await _learned(s)
            assert (shown["model"], shown["kind"], shown["period"], shown["limit"]) == (MODEL, "requests", "minute", 2)
            assert datetime.fromisoformat(shown["learned_at"]) == taught_at
            assert datetime.fromisoformat(shown["forgotten_at"]) == taught_at + timedelta(minutes=1)

            # a minute later the limit has lapsed; headers that no longer state it leave it forgotten
            sim.configure("openai", headers={})
            s.clock.advance(seconds=61)
            assert await _learned(s) == []
            assert [(await _ask(s, n))[0] for n in range(4, 7)] == [False] * 3

            # taught again, then `provider-router reset` forgets it at once
            sim.configure("openai", headers={"x-ratelimit-limit-requests": "1"})
            assert not (await _ask(s, 7))[0]
            assert (await _ask(s, 8))[0]
            assert await anyio.to_thread.run_sync(reset) == 0
            assert await _learned(s) == []
            sim.configure("openai", headers={})
            assert not (await _ask(s, 9))[0]
    tally.record("requests", sim.stats("openai").requests, test="learned limits")


# --------------------------------------------------------------------------------------------------- item 4


async def test_a_model_without_a_price_is_not_free_even_when_the_provider_reports_a_cost(tmp_path: Path) -> None:
    account = SimAccount(id="openrouter", kind="openai", flavour="openrouter", api_key=SIM_KEY, cost_usd=0.5)
    models = {UNPRICED: {"contextWindow": 32_000}}
    async with Simulator([account], clock=fixed_epoch) as sim:
        tiny = _one_provider(sim, "openrouter", models, budgetMode="free_only", budgetUsd={"daily": 0.000001})
        async with live(tmp_path / "tiny", sim, tiny) as s:
            with anyio.fail_after(30):
                free_only = [await _ask(s, n) for n in range(3)]
                priced = await _ask(s, 4, budget_mode="cost_first")
                status = (await s.call("provider_status")).structured_content or {}
                spent = await _scalar(s, "SELECT COALESCE(SUM(cost_nusd), 0) FROM reservations")
        assert all(error for error, _t, _d in free_only), [t for _e, t, _d in free_only]
        assert all("budget_mode" in text for _e, text, _d in free_only)
        assert priced[0] and "quota" in priced[1], priced[1]  # the worst case does not fit $0.000001
        assert sim.stats("openrouter").requests == 0 and spent == 0
        assert any("no price known" in w and UNPRICED in w and "inputCostPer1M" in w for w in status["warnings"])

        roomy = _one_provider(sim, "openrouter", models, budgetMode="cost_first", budgetUsd={"daily": 100})
        async with live(tmp_path / "roomy", sim, roomy) as s:
            with anyio.fail_after(30):
                served = [await _ask(s, n) for n in range(3)]
                recorded = await _scalar(s, "SELECT SUM(cost_nusd) FROM reservations WHERE state = 'settled'")
                status = (await s.call("provider_status")).structured_content or {}
    assert [error for error, _t, _d in served] == [False] * 3
    assert [data["cost_usd"] for _e, _t, data in served] == [0.5] * 3
    assert recorded == 3 * NANO // 2
    assert status["spend"]["day_usd"] == 1.5
    tally.record("requests", 7, test="unknown prices")


async def test_without_a_reported_cost_an_unpriced_model_is_charged_the_catalogues_highest_price(
    tmp_path: Path,
) -> None:
    account = SimAccount(id="openai", kind="openai", api_key=SIM_KEY, output_tokens=40)
    async with Simulator([account], clock=fixed_epoch) as sim:
        config = _one_provider(sim, "openai", {UNPRICED: {"contextWindow": 32_000}}, budgetMode="cost_first")
        async with live(tmp_path, sim, config) as s:
            with anyio.fail_after(30):
                error, text, data = await _ask(s, 1)
    assert not error, text
    per_input, per_output = load_catalog().highest_prices("openai")
    usage = data["usage"]
    expected = (usage["input_tokens"] * per_input + usage["output_tokens"] * per_output) / 1_000_000
    assert data["cost_usd"] == pytest.approx(expected) and expected > 0


async def test_a_local_model_without_a_price_stays_free(tmp_path: Path) -> None:
    account = SimAccount(id="mine", kind="openai")
    async with Simulator([account], clock=fixed_epoch) as sim:
        config = {
            "providers": {
                "mine": {"kind": "openai", "baseUrl": sim.base_url("mine"), "apiKey": "none",
                         "models": {UNPRICED: {"contextWindow": 32_000}}},
            },
            "preferences": {"default": "mine", "budgetMode": "free_only", "budgetUsd": {"daily": 0.000001}},
        }  # fmt: skip
        async with live(tmp_path, sim, config) as s:
            with anyio.fail_after(30):
                error, text, data = await _ask(s, 1)
                status = (await s.call("provider_status")).structured_content or {}
    assert not error, text
    assert data["cost_usd"] == 0
    assert not [w for w in status["warnings"] if "no price known" in w]


# --------------------------------------------------------------------------------------------------- item 13


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("server_error", "resting after a server error until"),
        ("reset", "resting after a transport failure (no answer) until"),
        ("rate_limited", "rate limited until"),
    ],
)
async def test_what_the_caller_reads_after_a_failure_says_what_happened(
    tmp_path: Path, fault: Fault, words: str
) -> None:
    account = SimAccount(id="openai", kind="openai", api_key=SIM_KEY, retry_after_s=30)
    async with (
        Simulator([account], clock=fixed_epoch) as sim,
        live(tmp_path, sim, _one_provider(sim, "openai", {MODEL: {}})) as s,
    ):
        with anyio.fail_after(30):
            sim.script("openai", [fault])
            first = await _ask(s, 1)
            second = await _ask(s, 2)
    assert first[0] and second[0]
    assert words in second[1], second[1]
    if fault != "rate_limited":
        assert "rate limited" not in second[1]
    for _error, text, _data in (first, second):
        assert "time above" not in text and "excluded`" not in text
        assert "Fix:" in text
    tally.record("faults", 1, test="failure texts")
