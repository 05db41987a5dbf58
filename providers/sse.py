"""Server-sent events parsed from the response's bytes, with the least work per event.

The rules of https://html.spec.whatwg.org/multipage/server-sent-events.html: lines end in LF, CRLF or CR; a blank
line ends an event; `:` starts a comment; `event`, `data` (joined by LF when repeated), `id` and `retry` are the
fields, one optional space after the colon. Instead of decoding the body to text and splitting it line by line, a
chunk is split on blank lines as bytes and only whole events are looked at: the usual `data: {...}` event costs one
slice and one decode. The read stops with `ResponseTooLarge` once the body passes the cap (an event larger than the
cap passes it too).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx2
import orjson

from providers.bounded import ResponseTooLarge

#: a blank line: the end of an event, whichever of the three line endings the server uses
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r|\n)")
_LINE_END = re.compile(rb"\r\n|\r|\n")


class ServerSentEvent(NamedTuple):
    """One event: its type (`message` unless named) and its data (a named tuple: immutable, and built in a third of
    a frozen dataclass's time, once per event of every stream)."""

    event: str = "message"
    data: str = ""


def _event_of(block: bytes) -> ServerSentEvent | None:
    """The event one blank-line-terminated block holds (None for comments only, or no data and no name)."""
    if block.startswith(b"data: ") and b"\n" not in block and b"\r" not in block:
        return ServerSentEvent("message", block[6:].decode("utf-8", "replace"))  # the usual case, on its own
    name = ""
    data: list[str] = []
    pending = False
    for line in _LINE_END.split(block):
        if not line or line.startswith(b":"):
            continue
        field, _, raw = line.partition(b":")
        value = (raw[1:] if raw.startswith(b" ") else raw).decode("utf-8", "replace")
        if field == b"data":
            data.append(value)
            pending = True
        elif field == b"event":
            name, pending = value, True
    if not pending:
        return None
    return ServerSentEvent(event=name or "message", data="\n".join(data))


def _one_data_event(chunk: bytes) -> bool:
    """Whether `chunk` is exactly one event of one `data:` line: `data: …` LF LF, no other line break in it."""
    return (
        chunk.startswith(b"data: ")
        and chunk.endswith(b"\n\n")
        and chunk.find(b"\n", 6) == len(chunk) - 2
        and b"\r" not in chunk
    )


def loads_json(data: str) -> Any:
    """`json.loads`, only faster: orjson first, the standard library for what orjson refuses (NaN, Infinity,
    nesting past 1024), so the documents accepted and the errors raised stay those of `json.loads`. One difference:
    an integer past 64 bits comes back as a float (an impossible count either way, refused as such downstream)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _check_content_type(response: httpx2.Response) -> None:
    content_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != "text/event-stream":
        raise httpx2.SSEError(f"Expected response with content type 'text/event-stream', got {content_type!r}.")


async def capped_events(response: httpx2.Response, limit: int) -> AsyncIterator[ServerSentEvent]:
    """The server-sent events of `response`; raises `ResponseTooLarge` once more than `limit` bytes arrived.

    Raises:
        httpx2.SSEError: the response is not an event stream.
        ResponseTooLarge: the body passed `limit` bytes.
    """
    _check_content_type(response)
    buffer = bytearray()  # the unfinished event: it grows by appending, never by copying
    scanned = 0  # where the search for the next blank line resumes
    async for chunk in response.aiter_bytes():
        if response.num_bytes_downloaded > limit:
            raise ResponseTooLarge(limit)
        if not buffer and _one_data_event(chunk):
            # the usual chunk, one whole `data: …` event ending in LF LF: the same event without the buffer's work
            yield ServerSentEvent("message", chunk[6:-2].decode("utf-8", "replace"))
            continue
        buffer += chunk
        # a CR at the very end may be the first half of a CRLF: wait for the next chunk before splitting on it
        end = len(buffer) - 1 if buffer.endswith(b"\r") else len(buffer)
        start = 0
        for match in _EVENT_END.finditer(buffer, scanned, end):
            event = _event_of(bytes(buffer[start : match.start()]))
            start = match.end()
            if event is not None:
                yield event
        del buffer[:start]
        # a blank line may begin in the last bytes searched and end in the next chunk
        scanned = max(0, end - start - 3)
    if buffer.endswith(b"\r"):  # the CR held back above ends a line after all
        for match in _EVENT_END.finditer(buffer, scanned):
            event = _event_of(bytes(buffer[: match.start()]))
            if event is not None:
                yield event
            break
    # an event the body ended before its blank line is not an event (a cut stream shows as unfinished)
