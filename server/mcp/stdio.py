"""The stdio wire of `serve` on POSIX: JSON-RPC lines read from and written to the descriptors by the event loop.

The SDK's `stdio_server` reads each line on a worker thread and writes each message with two more thread calls
(write, then flush); every one is a round trip between a thread and the event loop, and a thread that needs the
GIL while the loop runs waits for it. Here the loop itself waits on the descriptors (epoll): a line is read with one
`os.read` when stdin is readable, and each message is written by the task that sends it, with `os.write` while
stdout can take it (a pipe that has room takes up to PIPE_BUF bytes without blocking). The messages are the SDK's:
parsed with its JSON-RPC adapter, dumped as its stdio transport dumps them.
"""

from __future__ import annotations

import os
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

READ_SIZE = 1 << 16
#: the most one `os.write` is given: a pipe that polls writable takes this much without blocking
WRITE_CHUNK = select.PIPE_BUF

Inbound = SessionMessage | Exception


@asynccontextmanager
async def wire_streams(
    stdin_fd: int, stdout_fd: int
) -> AsyncIterator[tuple[MemoryObjectReceiveStream[Inbound], LineWriter]]:
    """The server's read and write streams over the two descriptors (left open: the caller owns them)."""
    send, receive = anyio.create_memory_object_stream[Inbound](0)
    with receive:
        async with anyio.create_task_group() as group:
            group.start_soon(_read_messages, stdin_fd, send)
            try:
                yield receive, LineWriter(stdout_fd)
            finally:
                group.cancel_scope.cancel()


async def _read_messages(fd: int, send: MemoryObjectSendStream[Inbound]) -> None:
    async with send:
        async for line in _lines(fd):
            try:
                await send.send(parse_line(line))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):  # the server stopped reading
                return


def parse_line(line: bytes) -> Inbound:
    """One line as the SDK's stdio transport reads it (UTF-8, undecodable bytes replaced); a bad line is the
    exception, which the server answers as the SDK does."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line.decode(errors="replace"), by_name=False))
    except Exception as error:
        return error


async def _lines(fd: int) -> AsyncIterator[bytes]:
    """The lines on `fd` until its end (a last line without its newline included); a long line's reads are joined
    once, when its newline arrives."""
    pending: list[bytes] = []
    pollable = True
    while True:
        if pollable:
            pollable = await _wait_readable(fd)
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            break
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        first, *lines, last = chunk.split(b"\n")
        yield b"".join([*pending, first])
        for line in lines:
            yield line
        pending = [last] if last else []
    if pending:
        yield b"".join(pending)


async def _wait_readable(fd: int) -> bool:
    """Wait until `fd` can be read; False when it cannot be polled (a regular file: its reads never wait)."""
    try:
        await anyio.wait_readable(fd)
    except (PermissionError, NotImplementedError):
        return False
    return True


class LineWriter:
    """The write stream: each message is dumped and written by the task that sends it, a line at a time.

    A line being written is finished even if its sender is cancelled meanwhile (a torn line would break every
    later one); a closed peer (EPIPE) reads as a broken stream, which the SDK drops quietly.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)
        self._lock = anyio.Lock(fast_acquire=True)
        self._closed = False

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        async with self._lock:
            with anyio.CancelScope(shield=True):
                await self._write(memoryview(line))

    async def _write(self, data: memoryview) -> None:
        while data:
            if not self._poll.poll(0):
                await self._wait_writable()
            try:
                written = os.write(self._fd, data[:WRITE_CHUNK])
            except OSError as error:
                raise anyio.BrokenResourceError from error
            data = data[written:]

    async def _wait_writable(self) -> None:
        try:
            await anyio.wait_writable(self._fd)
        except (PermissionError, NotImplementedError):  # not pollable by the loop: a write will not wait long
            return

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> LineWriter:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
