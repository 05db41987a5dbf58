"""The fault matrix, through the whole stack: MCP tool (in-memory client) -> router -> adapter -> simulator.

Every provider kind (OpenAI, Z.AI, Moonshot, Anthropic, Gemini — each speaking its real error dialect) meets every
fault the simulator can produce. Each call pins the faulted provider; the healthy `backup` ranks next. For each
case the table says the error class, and the test checks: what the caller sees, where the request failed over,
what the account now carries in the store, what the decision log records, that no reservation stays pending, and
that a second call does not re-probe an account the fault took out of service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from providers.catalog import load_catalog
from providers.simulator import FAULTS, Fault, Simulator
from tests.clock import FixedClock, fixed_epoch
from tests.reliability import tally
from tests.reliability.support import BACKUP, KINDS, Live, live, matrix_accounts, matrix_config, text_of

pytestmark = pytest.mark.anyio

TIMEOUT_S = 0.3
PROMPT = "Fix this Python function: def f(x): return x +"
START = FixedClock().now

#: the fault's class, for every flavour unless `CLASS_BY_FLAVOUR` says otherwise
CLASS: dict[Fault, str] = {
    "rate_limited": "rate_limited",
    "rate_limited_no_retry_after": "rate_limited",
    "quota_exhausted": "quota_exhausted",
    "server_error": "server_error",
    "bad_gateway": "server_error",
    "unavailable": "server_error",
    "overloaded": "overloaded",
    "timeout": "transport",
    "reset": "transport",
    "malformed": "server_error",
    "error_in_stream": "server_error",
    "truncated_stream": "transport",
    "auth": "auth_failed",
    "model_not_found": "model_not_found",
    "context_too_long": "context_too_long",
    "invalid": "invalid_request",
}
CLASS_BY_FLAVOUR: dict[tuple[str, Fault], str] = {
    ("openai", "overloaded"): "server_error",  # OpenAI's 503 "engine overloaded" is type server_error
    ("google", "unavailable"): "overloaded",  # Google's 503 UNAVAILABLE
    ("anthropic", "error_in_stream"): "overloaded",  # an overloaded_error event inside the 200 stream
    ("kimi", "error_in_stream"): "overloaded",  # Moonshot's engine_overloaded_error chunk
}

Effect = Literal[
    "model_cooldown_retry_after",
    "model_cooldown_default",
    "exhausted",
    "model_cooldown_breaker",
    "account_cooldown_breaker",
    "disabled",
    "retired",
    "none",
]
EFFECT: dict[str, Effect] = {
    "rate_limited": "model_cooldown_retry_after",
    "quota_exhausted": "exhausted",
    "server_error": "model_cooldown_breaker",
    "overloaded": "model_cooldown_breaker",
    "transport": "account_cooldown_breaker",
    "auth_failed": "disabled",
    "model_not_found": "retired",
    "context_too_long": "none",
    "invalid_request": "none",
}
#: when an exhausted quota comes back: a spent balance is re-probed after an hour; Anthropic's spend limit names
#: the first of next month; Gemini's free tier resets at midnight Pacific (08:00 UTC) — that one per model
EXHAUSTED_UNTIL: dict[str, tuple[datetime, Literal["account", "model"]]] = {
    "openai": (START + timedelta(hours=1), "account"),
    "zai": (START + timedelta(hours=1), "account"),
    "kimi": (START + timedelta(hours=1), "account"),
    "anthropic": (datetime.fromisoformat("2026-12-01T00:00:00+00:00"), "account"),
    "google": (datetime.fromisoformat("2026-11-29T08:00:00+00:00"), "model"),
}
#: the faults after which the account (or model) is out of service: a second call must not reach it
RESTS = frozenset(EFFECT) - {"context_too_long", "invalid_request"}

CASES = [(provider, fault) for provider in KINDS for fault in FAULTS]


def error_class(provider: str, fault: Fault) -> str:
    return CLASS_BY_FLAVOUR.get((provider, fault), CLASS[fault])


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as simulator:
        yield simulator


async def _account_state(s: Live, provider: str) -> Any:
    accounts = [a for p in s.app.config.providers.values() for a in p.accounts]
    return await s.app.ledger.snapshot(accounts, s.clock())


async def _check_effect(s: Live, provider: str, fault: Fault, klass: str) -> None:
    snapshot = await _account_state(s, provider)
    account = snapshot.accounts[provider]
    model = account.model(KINDS[provider][1]).health
    now = s.clock()
    effect = "model_cooldown_default" if fault == "rate_limited_no_retry_after" else EFFECT[klass]
    observed = (
        account.health.cooldown_until,
        model.cooldown_until,
        account.health.exhausted_until,
        model.exhausted_until,
        account.disabled_reason is not None,
        (provider, KINDS[provider][1]) in snapshot.retired,
    )
    expected: tuple[Any, ...] = (None, None, None, None, False, False)
    if effect == "model_cooldown_retry_after":
        expected = (None, now + timedelta(seconds=1), None, None, False, False)  # the simulator's Retry-After: 1
    elif effect == "model_cooldown_default":
        expected = (None, now + timedelta(seconds=30), None, None, False, False)
    elif effect == "model_cooldown_breaker":
        expected = (None, now + timedelta(seconds=10), None, None, False, False)
    elif effect == "account_cooldown_breaker":
        expected = (now + timedelta(seconds=5), None, None, None, False, False)
    elif effect == "exhausted":
        until, scope = EXHAUSTED_UNTIL[provider]
        expected = (
            (None, None, until, None, False, False) if scope == "account" else (None, None, None, until, False, False)
        )
    elif effect == "disabled":
        expected = (None, None, None, None, True, False)
    elif effect == "retired":
        expected = (None, None, None, None, False, True)
    assert observed == expected, f"{provider}/{fault}: {effect}"
    breaker = effect in ("model_cooldown_breaker", "account_cooldown_breaker")
    assert model.consecutive_failures == (1 if breaker else 0)


async def _check_caller_and_log(s: Live, provider: str, fault: Fault, klass: str, result: Any) -> int:
    text = text_of(result)
    assert "Traceback" not in text
    if klass == "invalid_request":
        assert result.is_error
        assert text.startswith(f"Error executing tool route_and_complete: {provider} rejected the request: ")
        assert f"{provider}/{KINDS[provider][1]} @ {provider}: error (invalid_request)" in text
        assert "Fix: change the request" in text
        decision = (await s.read("router://decisions"))["decisions"][0]
        decision_id = int(decision["id"])
    else:
        assert not result.is_error, text
        out = result.structured_content
        assert out is not None
        assert (out["provider"], out["reason"]) == (BACKUP, "failover")
        assert [(a["provider"], a["outcome"], a["error_class"]) for a in out["attempts"]] == [
            (provider, "error", klass),
            (BACKUP, "success", None),
        ]
        assert text.splitlines()[-1].startswith(f"— routed to {BACKUP}/") and "after 1 failed attempt" in text
        decision_id = int(out["decision_id"])
    logged = await s.read(f"router://decisions/{decision_id}")
    expected = [(provider, "error", klass)] + ([] if klass == "invalid_request" else [(BACKUP, "success", None)])
    assert [(a["provider"], a["outcome"], a["error_class"]) for a in logged["attempts"]] == expected
    assert logged["served"] is (klass != "invalid_request")
    return decision_id


@pytest.mark.parametrize(("provider", "fault"), CASES, ids=[f"{p}-{f}" for p, f in CASES])
async def test_each_fault_of_each_provider_kind_is_classified_acted_on_failed_over_and_logged(
    sim: Simulator, tmp_path: Path, provider: str, fault: Fault
) -> None:
    sim.reset_counters()
    klass = error_class(provider, fault)
    config = matrix_config(sim, settings={"requestTimeoutS": TIMEOUT_S})
    async with live(tmp_path, sim, config) as s:
        sim.script(provider, [fault])
        with anyio.fail_after(10):
            result = await s.call("route_and_complete", prompt=PROMPT, task_type="coding", provider=provider)
            await _check_caller_and_log(s, provider, fault, klass, result)
            await _check_effect(s, provider, fault, klass)
            assert await s.pending() == 0
            assert (sim.stats(provider).requests, sim.stats(BACKUP).requests) == (
                1,
                0 if klass == "invalid_request" else 1,
            )
            again = await s.call("route_and_complete", prompt=PROMPT, task_type="coding", provider=provider)
        assert not again.is_error, text_of(again)
        served_by = (again.structured_content or {})["provider"]
        successor = load_catalog().replacement(provider, KINDS[provider][1], START.date())
        if klass == "model_not_found" and successor is not None:
            # the retired model's catalogue replacement serves in its place from then on (routing.retirement)
            assert (served_by, (again.structured_content or {})["model"]) == (provider, successor.id)
        elif klass in RESTS:
            assert (served_by, sim.stats(provider).requests) == (BACKUP, 1)
        else:
            assert (served_by, sim.stats(provider).requests) == (provider, 2)
        assert await s.pending() == 0
    tally.record("faults", test=f"matrix {provider} {fault}")
