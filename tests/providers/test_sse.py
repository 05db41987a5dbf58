"""Server-sent events read from bytes: the events httpx2's text parser finds, however the bytes are cut."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import AsyncIterator

import httpx2
import pytest

from providers.bounded import ResponseTooLarge
from providers.sse import ServerSentEvent, capped_events, loads_json

pytestmark = pytest.mark.anyio

BODIES = [
    b'data: {"a": 1}\n\ndata: [DONE]\n\n',
    b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\r\n\r\n',
    b"data: one\r\rdata: two\r\r",
    b"event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n",
    b": a comment\n\ndata: first\ndata: second\n\n",
    b"data:no-space\nid: 7\nretry: 10\n\n",
    b'event: error\ndata: {"error": {}}\n\n',
    b"data: \xc3\xa9t\xc3\xa9 \xe2\x80\x94 ok\n\n",
    b"data: mixed\r\n\ndata: endings\n\r\ndata: again\r\r\n",
    b"data: unfinished at the end",
    b"data: done\n\ndata: cut after one newline\n",
    b"\n\n\ndata: after blank lines\n\n",
    b"event: named-only\n\n",
]


class Pieces(httpx2.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def _response(pieces: list[bytes], content_type: str = "text/event-stream") -> httpx2.Response:
    request = httpx2.Request("POST", "http://upstream.test/")
    return httpx2.Response(200, headers={"content-type": content_type}, stream=Pieces(pieces), request=request)


async def _ours(pieces: list[bytes], limit: int = 1_000_000) -> list[tuple[str, str]]:
    return [(e.event, e.data) async for e in capped_events(_response(pieces), limit)]


async def _httpx2s(body: bytes) -> list[tuple[str, str]]:
    return [(e.event, e.data) async for e in httpx2.EventSource(_response([body]))]


def _cuts(body: bytes, rng: random.Random) -> list[bytes]:
    points = sorted(rng.sample(range(1, len(body)), k=min(len(body) - 1, rng.randint(1, 6))))
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


@pytest.mark.parametrize("body", BODIES)
async def test_the_events_are_those_httpx2_finds_whole_cut_at_every_byte_or_at_random(body: bytes) -> None:
    expected = await _httpx2s(body)
    assert await _ours([body]) == expected
    assert await _ours([body[i : i + 1] for i in range(len(body))]) == expected
    rng = random.Random(body)
    for _ in range(20):
        assert await _ours(_cuts(body, rng)) == expected


@pytest.mark.parametrize("body", BODIES)
async def test_the_events_are_those_httpx2_finds_when_each_chunk_ends_at_a_blank_line(body: bytes) -> None:
    # the way servers usually send: one whole event per chunk (the common `data: …` LF LF chunk skips the buffer)
    pieces = [piece for piece in re.split(rb"(?<=\n\n)|(?<=\r\r)|(?<=\r\n\r\n)", body) if piece]
    assert await _ours(pieces) == await _httpx2s(body)


@pytest.mark.parametrize(
    "pieces",
    [
        [b"data: x", b"data: a\n\n"],  # a whole-looking chunk that continues the unfinished line before it
        [b"data: a\r", b"\ndata: b\n\n"],  # after a CR held back as the first half of a CRLF
        [b"data: a\ndata: b\n\n", b"data: c\n\n"],  # two data lines in one event, then the usual chunk
        [b"data: a\n\ndata: b\n\n", b"data: \n\n"],  # two events in one chunk, then an empty data event
        [b"data: a\r\n\r\n", b"data: b\n\n"],
    ],
)
async def test_whole_event_chunks_after_any_other_chunk_read_as_httpx2_reads_them(pieces: list[bytes]) -> None:
    assert await _ours(pieces) == await _httpx2s(b"".join(pieces))


async def test_the_usual_data_event_is_a_message_with_its_data() -> None:
    assert await _ours([b'data: {"x": 1}\n\n']) == [("message", '{"x": 1}')]
    assert ServerSentEvent().event == "message"


async def test_a_body_past_the_cap_stops_being_read() -> None:
    with pytest.raises(ResponseTooLarge):
        await _ours([b"data: " + b"y" * 600 + b"\n\n"] * 10, limit=2000)


async def test_a_response_that_is_not_an_event_stream_is_an_sse_error() -> None:
    with pytest.raises(httpx2.SSEError, match="application/json"):
        [e async for e in capped_events(_response([b"{}"], "application/json"), 1000)]


def test_json_is_read_as_the_standard_library_reads_it_nan_included() -> None:
    assert loads_json('{"a": [1, "é", null], "b": 1.5}') == {"a": [1, "é", None], "b": 1.5}
    assert math.isnan(loads_json('{"x": NaN}')["x"])
    assert loads_json(str(2**63 - 1)) == 2**63 - 1
    with pytest.raises(json.JSONDecodeError):
        loads_json("{not json")
