"""Reading one streamed completion, timed (README "Latency-aware routing"): the time to the first content delta
(text, or a tool call's first fragment; not the response headers) and the time the rest of the output took, on
the router's clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import anyio

from providers.adapter import ChatAdapter
from providers.errors import ProviderTransportError
from providers.types import ChatRequest, Completion, StreamDone, TextDelta, ToolCallDelta
from providers.values import read_only_hashable
from routing.types import RankedCandidate

#: report streaming progress every this many text deltas
PROGRESS_EVERY = 16

#: (output tokens so far, message) -> reported to the caller while a completion streams in
Progress = Callable[[int, str], Awaitable[None]]


@read_only_hashable
class Timed:
    """A completion with its time to first token and the time from there to the end (None: no content streamed)."""

    completion: Completion
    ttft_ms: float | None
    generation_ms: float | None

    @property
    def tokens_per_s(self) -> float | None:
        tokens = self.completion.usage.output_tokens
        if self.generation_ms is None or self.generation_ms <= 0 or tokens <= 0:
            return None
        return tokens / (self.generation_ms / 1000.0)


def _ms(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() * 1000.0)


async def stream_completion(
    adapter: ChatAdapter,
    chat: ChatRequest,
    candidate: RankedCandidate,
    progress: Progress | None,
    clock: Callable[[], datetime],
    first_token: anyio.Event | None = None,
) -> Timed:
    """Read `adapter`'s stream to its end; `first_token` is set when the first content delta arrives."""
    deltas = 0
    where = f"{candidate.provider}/{candidate.model}"
    if progress is not None:
        await progress(0, f"routed to {where}")
    completion: Completion | None = None
    started = clock()
    first: datetime | None = None
    # read on past StreamDone to the iterator's end, so the adapter finishes (and frees its connection) now
    async for event in adapter.stream(chat):
        if isinstance(event, StreamDone):
            completion = event.completion
        elif isinstance(event, TextDelta | ToolCallDelta):
            # an answer of tool calls only is content too: its first fragment is its first token
            if first is None and (event.text if isinstance(event, TextDelta) else event.name or event.arguments):
                first = clock()
                if first_token is not None:
                    first_token.set()
            deltas += 1
            if progress is not None and deltas % PROGRESS_EVERY == 0:
                await progress(deltas, f"streaming from {where}")
    if completion is None:
        raise ProviderTransportError(
            "the stream ended without a final event",
            provider=candidate.provider,
            account=candidate.account,
            model=candidate.model,
        )
    if first is None:
        return Timed(completion, None, None)
    return Timed(completion, _ms(started, first), _ms(first, clock()))
