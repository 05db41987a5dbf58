"""The simulated Anthropic keeps a prompt cache per account: a marked prefix is written on first use, read within
five minutes of its last use, cold after that, never shared between accounts, and never cached when short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from providers.simulator import SimAccount, Simulator
from tests.clock import FixedClock

pytestmark = pytest.mark.anyio

LONG = "The repository's coding rules, one long paragraph. " * 120  # ~1,500 tokens
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as client:
        yield client


def body(system: str, question: str = "Fix the bug.") -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": [{"type": "text", "text": system, "cache_control": EPHEMERAL}],
        "messages": [{"role": "user", "content": question}],
    }


async def usage(http: httpx2.AsyncClient, sim: Simulator, account: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{sim.base_url(account)}/v1/messages", json=payload)
    assert response.status_code == 200
    found: dict[str, Any] = response.json()["usage"]
    return found


async def test_a_marked_prefix_is_written_then_read_until_it_goes_cold(http: httpx2.AsyncClient) -> None:
    clock = FixedClock()
    accounts = [SimAccount(id=f"anthropic-{i}", kind="anthropic") for i in (1, 2)]
    async with Simulator(accounts, clock=clock.epoch) as sim:
        first = await usage(http, sim, "anthropic-1", body(LONG))
        assert first["cache_creation_input_tokens"] > 1024 and first["cache_read_input_tokens"] == 0
        clock.advance(minutes=4)
        second = await usage(http, sim, "anthropic-1", body(LONG, "Now the tests."))
        assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
        assert second["cache_creation_input_tokens"] == 0
        assert second["input_tokens"] < first["cache_creation_input_tokens"]
        other = await usage(http, sim, "anthropic-2", body(LONG))
        assert other["cache_read_input_tokens"] == 0 and other["cache_creation_input_tokens"] > 0
        clock.advance(minutes=6)
        cold = await usage(http, sim, "anthropic-1", body(LONG))
        assert cold["cache_read_input_tokens"] == 0 and cold["cache_creation_input_tokens"] > 0


async def test_a_short_or_unmarked_prefix_is_not_cached(http: httpx2.AsyncClient) -> None:
    clock = FixedClock()
    async with Simulator([SimAccount(id="anthropic-1", kind="anthropic")], clock=clock.epoch) as sim:
        for payload in (body("Be terse."), {**body(LONG), "system": LONG}):
            for _ in range(2):
                seen = await usage(http, sim, "anthropic-1", payload)
                assert seen["cache_read_input_tokens"] == 0 and seen["cache_creation_input_tokens"] == 0
