"""Hostile upstreams through the whole stack: MCP tool (in-memory client) -> router -> adapter -> simulator.

Issue 12's items 1, 3, 5, 6 and 11, reproduced from outside: a key with a trailing CR/LF or one no header can
carry, usage that is NaN, 1e20, negative or missing, an infinite cost, rate-limit headers saying `inf`, a reply of
megabytes and an error body of megabytes. For each: the call is answered (or fails over to the healthy `backup`),
the decision and its attempts are logged, no reservation stays pending, spend is never lowered nor recorded as
zero, and the key appears nowhere the product writes (tool results, provider_status, resources, the database,
the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult

from providers.simulator import HostileFault, Simulator
from tests.clock import fixed_epoch
from tests.harness import ENV, SIM_KEY
from tests.reliability import tally
from tests.reliability.support import BACKUP, KINDS, Live, live, matrix_accounts, matrix_config, text_of

pytestmark = pytest.mark.anyio

PROMPT = "Fix this Python function: def f(x): return x +"
HUGE_BYTES = 300_000
#: the usage faults: answered by the pinned provider and settled at the estimate
USAGE_FAULTS: tuple[HostileFault, ...] = ("nan_usage", "huge_usage", "negative_usage", "no_usage")
USAGE_CASES = [(provider, fault) for provider in KINDS for fault in USAGE_FAULTS]
#: the faults answered with what cannot be held: failed over as server_error
SIZE_FAULTS: tuple[HostileFault, ...] = ("huge_body", "huge_error")
SIZE_CASES = [(provider, fault) for provider in KINDS for fault in SIZE_FAULTS]
#: the global spend of today and this month (the smaller: both counters move together)
GLOBAL_SPENT = "SELECT MIN(cost_nusd) FROM usage_counters WHERE account = '' AND model = ''"
RESOURCES = ("router://providers", "router://decisions", "router://config", "router://metrics")


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(matrix_accounts(huge_body_bytes=HUGE_BYTES), clock=fixed_epoch) as simulator:
        yield simulator


async def _ask(s: Live, provider: str) -> CallToolResult:
    with anyio.fail_after(20):
        return await s.call("route_and_complete", prompt=PROMPT, task_type="coding", provider=provider)


async def _rows(s: Live, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await s.app.store.fetchall(sql, params)]


async def _attempts(s: Live, decision_id: int) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT provider, outcome, error_class, input_tokens, output_tokens, cost_nusd, usage_estimated "
        "FROM attempts WHERE decision_id = ? ORDER BY id"
    )
    return await _rows(s, sql, decision_id)


async def _written(s: Live, home: Path, results: list[CallToolResult], caplog: pytest.LogCaptureFixture) -> str:
    """Everything the product shows or writes: tool results, provider_status, resources, every file, the log."""
    status = await s.call("provider_status")
    texts = [text_of(r) + json.dumps(r.structured_content) for r in [*results, status]]
    texts += [json.dumps(await s.read(uri)) for uri in RESOURCES]
    ids = [d["id"] for d in (await s.read("router://decisions"))["decisions"]]
    texts += [json.dumps(await s.read(f"router://decisions/{n}")) for n in ids]
    texts += [path.read_bytes().decode("latin-1") for path in home.iterdir() if path.is_file()]
    texts.append(caplog.text)
    return "\n".join(texts)


def _no_key_in(everything: str, key: str) -> None:
    for form in {key, key.strip(), repr(key)[1:-1], json.dumps(key)[1:-1]}:
        assert form not in everything


async def _settled_and_logged(s: Live, result: CallToolResult, provider: str) -> tuple[Any, ...]:
    """The served call's one attempt row; every reservation is settled or released, spend never negative."""
    assert not result.is_error, text_of(result)
    out = result.structured_content or {}
    assert (out["provider"], out["reason"]) == (provider, "manual")
    [row] = await _attempts(s, int(out["decision_id"]))
    assert await s.pending() == 0
    [(tokens, cost)] = await _rows(s, "SELECT MIN(tokens), MIN(cost_nusd) FROM usage_counters")
    assert tokens > 0 and cost >= 0
    return row


# ------------------------------------------------------------------ item 1: keys as a CRLF .env leaves them


async def test_a_key_with_a_trailing_crlf_is_stripped_and_never_shown(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.reset_counters()
    environ = {**ENV, "SIM_KEY": SIM_KEY + "\r\n"}
    async with live(tmp_path, sim, matrix_config(sim), environ=environ) as s:
        results = [await _ask(s, provider) for provider in KINDS]
        for provider, result in zip(KINDS, results, strict=True):
            assert not result.is_error, text_of(result)
            assert (result.structured_content or {})["provider"] == provider
        everything = await _written(s, tmp_path, results, caplog)
    assert all(sim.stats(provider).succeeded == 1 for provider in KINDS)  # the stripped key was accepted
    _no_key_in(everything, SIM_KEY + "\r\n")
    tally.record("faults", len(KINDS), test="upstream crlf-key")


@pytest.mark.parametrize("bad", ["sim-test-kéy-0123456789", "sim-test\rkey-0123456789"], ids=["non-ascii", "inner-cr"])
async def test_a_key_no_header_can_carry_is_an_auth_failure_naming_the_variable(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.reset_counters()
    config = matrix_config(sim)
    config["providers"]["anthropic"]["apiKey"] = "${ANTHROPIC_BAD_KEY}"
    async with live(tmp_path, sim, config, environ={**ENV, "ANTHROPIC_BAD_KEY": bad}) as s:
        result = await _ask(s, "anthropic")
        assert not result.is_error, text_of(result)
        out = result.structured_content or {}
        assert out["provider"] == BACKUP
        assert [(a["provider"], a["error_class"]) for a in out["attempts"]] == [
            ("anthropic", "auth_failed"),
            (BACKUP, None),
        ]
        assert "ANTHROPIC_BAD_KEY" in out["attempts"][0]["detail"]
        [(disabled, reason)] = await _rows(
            s, "SELECT disabled_reason, cooldown_reason FROM account_state WHERE account = 'anthropic'"
        )
        assert disabled is None  # refused here, not by the provider: a fixed variable works after a restart
        assert "ANTHROPIC_BAD_KEY" in reason and "Fix:" in reason
        assert await s.pending() == 0
        status = await s.call("provider_status", provider="anthropic")
        assert "ANTHROPIC_BAD_KEY" in text_of(status)  # the user sees which variable to fix
        everything = await _written(s, tmp_path, [result], caplog)
    assert sim.stats("anthropic").requests == 0  # refused before anything was sent
    _no_key_in(everything, bad)
    tally.record("faults", test="upstream unusable-key")


# ------------------------------------------------------------------ items 3, 5, 6: impossible or missing usage


@pytest.mark.parametrize(("provider", "fault"), USAGE_CASES, ids=[f"{p}-{f}" for p, f in USAGE_CASES])
async def test_impossible_or_missing_usage_is_answered_and_settled_at_the_estimate(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, provider: str, fault: HostileFault
) -> None:
    sim.reset_counters()
    budget = {"budgetUsd": {"daily": 0.5}}
    async with live(tmp_path, sim, matrix_config(sim, **budget)) as s:
        sim.script(provider, [fault])
        result = await _ask(s, provider)
        _, outcome, error_class, tokens_in, tokens_out, cost, estimated = await _settled_and_logged(s, result, provider)
        assert (outcome, error_class, estimated) == ("success", None, 1)
        assert tokens_in > 0 and tokens_out > 0 and cost >= 0
        [(settled,)] = await _rows(s, "SELECT tokens FROM reservations WHERE state = 'settled'")
        assert settled == tokens_in + tokens_out
        logged = await s.read(f"router://decisions/{(result.structured_content or {})['decision_id']}")
        assert [a["usage_estimated"] for a in logged["attempts"]] == [True]
        again = await _ask(s, provider)  # no hold left behind blocks the small budget
        assert (again.structured_content or {}).get("provider") == provider, text_of(again)
        everything = await _written(s, tmp_path, [result, again], caplog)
    _no_key_in(everything, SIM_KEY)
    tally.record("faults", test=f"upstream {provider} {fault}")


@pytest.mark.parametrize("provider", list(KINDS))
async def test_negative_usage_never_lowers_recorded_spend(sim: Simulator, tmp_path: Path, provider: str) -> None:
    sim.reset_counters()
    async with live(tmp_path, sim, matrix_config(sim)) as s:
        first = await _ask(s, provider)
        [(spent_before,)] = await _rows(s, GLOBAL_SPENT)
        sim.script(provider, ["negative_usage"])
        second = await _ask(s, provider)
        await _settled_and_logged(s, second, provider)
        [(spent_after,)] = await _rows(s, GLOBAL_SPENT)
    assert not first.is_error
    assert spent_after >= spent_before
    tally.record("faults", test=f"upstream {provider} negative-spend")


async def test_an_infinite_cost_and_infinite_rate_limit_headers_are_ignored(sim: Simulator, tmp_path: Path) -> None:
    sim.reset_counters()
    async with live(tmp_path, sim, matrix_config(sim)) as s:
        for provider in KINDS:
            sim.script(provider, ["inf_cost", "inf_header"])
            for _ in range(2):
                row = await _settled_and_logged(s, await _ask(s, provider), provider)
                assert row[1:3] == ("success", None)
        learned = await _rows(s, "SELECT COUNT(*) FROM account_state WHERE learned_requests_limit IS NOT NULL")
        assert learned == [(0,)]
        [(cost,)] = await _rows(s, "SELECT MAX(cost_nusd) FROM usage_counters")
        assert cost < 10**9  # under a dollar: the price list, not infinity
    tally.record("faults", 2 * len(KINDS), test="upstream inf-cost-and-headers")


# ------------------------------------------------------------------ item 11: replies of megabytes


@pytest.mark.parametrize(("provider", "fault"), SIZE_CASES, ids=[f"{p}-{f}" for p, f in SIZE_CASES])
async def test_a_reply_or_error_of_megabytes_fails_over_and_is_stored_short(
    sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, provider: str, fault: HostileFault
) -> None:
    sim.reset_counters()
    async with live(tmp_path, sim, matrix_config(sim, settings={"maxResponseMb": 0.1})) as s:
        sim.script(provider, [fault])
        result = await _ask(s, provider)
        assert not result.is_error, text_of(result)
        out = result.structured_content or {}
        assert (out["provider"], out["reason"]) == (BACKUP, "failover")
        assert [(a["provider"], a["error_class"]) for a in out["attempts"]] == [
            (provider, "server_error"),
            (BACKUP, None),
        ]
        rows = await _attempts(s, int(out["decision_id"]))
        assert [(r[0], r[1], r[2]) for r in rows] == [(provider, "error", "server_error"), (BACKUP, "success", None)]
        assert await s.pending() == 0
        reasons = await _rows(s, "SELECT COALESCE(cooldown_reason, '') FROM account_state")
        assert all(len(reason) <= 300 for (reason,) in reasons)
        everything = await _written(s, tmp_path, [result], caplog)
    assert "x" * 5000 not in everything
    tally.record("faults", test=f"upstream {provider} {fault}")
