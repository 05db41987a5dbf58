"""A streamed completion's timing (routing/streaming.py): the time to the first content delta, not to the
headers or an empty opening delta, and the output rate after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import anyio
import pytest

from providers.types import (
    ChatRequest,
    Completion,
    RateLimits,
    StreamDone,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from routing.streaming import stream_completion
from routing.types import RankedCandidate, Tiers
from tests.clock import FixedClock

pytestmark = pytest.mark.anyio

HELLO = TextDelta(text="Hello")


class Paced:
    """An adapter whose stream moves the clock: 1 s to an empty role delta, 0.5 s more to the first content
    (`content`: text, or a tool call's first fragment), then 2 s to the end with 100 output tokens."""

    def __init__(self, clock: FixedClock, content: StreamEvent = HELLO) -> None:
        self.clock = clock
        self.content = content

    async def complete(self, request: ChatRequest) -> Completion:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.clock.advance(seconds=1)
        yield TextDelta(text="")
        self.clock.advance(seconds=0.5)
        yield self.content
        self.clock.advance(seconds=2)
        usage = Usage(input_tokens=10, output_tokens=100)
        yield StreamDone(completion=Completion(text="Hello", finish_reason="stop", usage=usage, model="m"))

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits:
        return RateLimits()


def candidate() -> RankedCandidate:
    tiers = Tiers(2, None, None, None, None, 0)
    return RankedCandidate("p", "m", "a", 0, tiers, None, 0, 1.0, 10, 100, 0.0, "openai")  # type: ignore[arg-type]


async def test_ttft_is_taken_at_the_first_content_delta_and_the_rate_after_it() -> None:
    clock = FixedClock()
    first = anyio.Event()
    chat = ChatRequest(model="m", messages=())
    timed = await stream_completion(Paced(clock), chat, candidate(), None, clock, first)
    assert (timed.ttft_ms, timed.generation_ms, timed.tokens_per_s) == (1500.0, 2000.0, 50.0)
    assert first.is_set()


async def test_an_answer_of_tool_calls_only_is_timed_from_its_first_fragment() -> None:
    clock = FixedClock()
    first = anyio.Event()
    chat = ChatRequest(model="m", messages=())
    call = ToolCallDelta(index=0, id="t1", name="lookup")
    timed = await stream_completion(Paced(clock, call), chat, candidate(), None, clock, first)
    assert (timed.ttft_ms, timed.tokens_per_s) == (1500.0, 50.0)
    assert first.is_set()
