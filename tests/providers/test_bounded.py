"""Reading under a size cap stops reading: an upstream sending without end costs at most the cap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from providers.bounded import ResponseTooLarge, capped_text, read_error_text, read_text
from providers.sse import capped_events

pytestmark = pytest.mark.anyio

CHUNK = b"x" * 65_536
CHUNKS = 1_000  # 64 MB if it were all read


class Endless(httpx2.AsyncByteStream):
    """A body of CHUNKS chunks that counts how many were read."""

    def __init__(self, frame: bytes = CHUNK) -> None:
        self.frame = frame
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            self.sent += 1
            yield self.frame


@asynccontextmanager
async def _streamed(body: Endless, content_type: str = "application/json") -> AsyncIterator[httpx2.Response]:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, stream=body)

    async with (
        httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as http,
        http.stream("GET", "http://upstream.test/") as response,
    ):
        yield response


async def test_a_body_past_the_cap_stops_being_read() -> None:
    body = Endless()
    async with _streamed(body) as response:
        with pytest.raises(ResponseTooLarge, match="size cap of 1 MB"):
            await read_text(response, 1024 * 1024)
    assert body.sent <= 17


async def test_a_body_under_the_cap_is_read_whole() -> None:
    body = Endless()
    async with _streamed(body) as response:
        text = await read_text(response, len(CHUNK) * CHUNKS)
    assert len(text) == len(CHUNK) * CHUNKS


async def test_an_error_body_is_read_only_as_far_as_classifying_it_needs() -> None:
    body = Endless()
    async with _streamed(body) as response:
        text = await read_error_text(response, limit=1000)
    assert (len(text), body.sent) == (1000, 1)


async def test_server_sent_events_past_the_cap_stop_being_read() -> None:
    body = Endless(b'data: {"x": "' + b"y" * 10_000 + b'"}\n\n')
    async with _streamed(body, "text/event-stream") as response:
        with pytest.raises(ResponseTooLarge):
            [event async for event in capped_events(response, 100_000)]
    assert body.sent <= 12


async def test_one_event_larger_than_the_cap_is_too_large() -> None:
    body = Endless(b"data: " + CHUNK)  # never ends its event
    async with _streamed(body, "text/event-stream") as response:
        with pytest.raises(ResponseTooLarge):
            [event async for event in capped_events(response, 200_000)]
    assert body.sent <= 5


async def test_text_chunks_past_the_cap_stop_being_read() -> None:
    body = Endless()
    async with _streamed(body) as response:
        with pytest.raises(ResponseTooLarge):
            [text async for text in capped_text(response, 200_000)]
    assert body.sent <= 5
