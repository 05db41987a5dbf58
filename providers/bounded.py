"""Reading a response under a size cap: an upstream that sends megabytes without end must not exhaust memory.

The cap (`Endpoint.max_response_bytes`, `settings.maxResponseMb`) bounds what one attempt reads; past it the read
stops and the attempt fails as a malformed response (`server_error`), so the router fails over. An error body is
read only as far as classifying it needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

#: how much of an error body is read: its start classifies it, and it is stored shorter still
ERROR_BODY_BYTES = 64 * 1024
_MIB = 1024 * 1024


class ResponseTooLarge(Exception):
    """The response passed the size cap; the adapter reports it as a malformed response."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the response passed the size cap of {limit / _MIB:g} MB (settings.maxResponseMb)")
        self.limit = limit


def _text(response: httpx2.Response, body: bytes) -> str:
    return body.decode(response.encoding or "utf-8", errors="replace")


async def read_text(response: httpx2.Response, limit: int) -> str:
    """The whole body as text; raises `ResponseTooLarge` as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
    return _text(response, b"".join(chunks))


async def read_error_text(response: httpx2.Response, limit: int = ERROR_BODY_BYTES) -> str:
    """The start of an error body (at most `limit` bytes); the rest is not read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return _text(response, b"".join(chunks))


async def capped_text(response: httpx2.Response, limit: int) -> AsyncIterator[str]:
    """The body as text chunks; raises `ResponseTooLarge` once more than `limit` bytes arrived."""
    async for text in response.aiter_text():
        if response.num_bytes_downloaded > limit:
            raise ResponseTooLarge(limit)
        yield text
