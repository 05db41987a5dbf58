"""The simulator's latency profiles: the time to the first token before the first frame, the generation time
before the last ones, `slowdown` on demand, repeatable jitter; spent by an injected pace (here the test clock's)."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest

from providers.simulator import SimAccount, Simulator
from providers.simulator.core import profile_times
from tests.clock import FixedClock

pytestmark = pytest.mark.anyio

BODY = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


async def timings(sim: Simulator, clock: FixedClock) -> tuple[timedelta, timedelta]:
    """(time to the first content chunk, time to the end) of one streamed answer, on the test clock."""
    start = clock.now
    first = None
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as http,
        http.stream("POST", f"{sim.base_url('fast')}/chat/completions", json=BODY) as response,
    ):
        async for line in response.aiter_lines():
            if first is None and '"content"' in line:
                first = clock.now
    assert first is not None
    return first - start, clock.now - start


async def test_a_profile_paces_the_first_token_and_the_generation_and_slows_down_on_demand() -> None:
    clock = FixedClock()
    account = SimAccount(id="fast", ttft_ms=300, tokens_per_s=50, output_tokens=100)
    async with Simulator([account], clock=clock.epoch, pace=clock.pace) as sim:
        assert await timings(sim, clock) == (timedelta(seconds=0.3), timedelta(seconds=2.3))
        sim.configure("fast", slowdown=10.0)
        assert await timings(sim, clock) == (timedelta(seconds=3), timedelta(seconds=23))


def test_jitter_varies_each_answer_within_its_bound_and_repeats() -> None:
    spec = SimAccount(id="a", ttft_ms=1000, tokens_per_s=100, jitter=0.2)
    draws = [profile_times(spec, 100, f"{n:012x}") for n in range(50)]
    assert all(0.8 <= ttft <= 1.2 and 0.8 <= rest <= 1.2 for ttft, rest in draws)
    assert len({ttft for ttft, _ in draws}) > 40
    assert draws == [profile_times(spec, 100, f"{n:012x}") for n in range(50)]
