"""A minimal HTTP/1.1 server over anyio sockets: only what the simulator needs, with full control of the wire.

Hand-rolled rather than uvicorn because the simulator must reset connections, hang without blocking shutdown,
and cut streams short; owning the socket makes those one line each, and it is faster per request.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Literal

import anyio
from anyio.abc import SocketAttribute, SocketStream

from providers.values import read_only_hashable

log = logging.getLogger(__name__)

_MAX_HEAD_BYTES = 64 * 1024
_RECEIVE_BYTES = 64 * 1024
_CLOSED = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)

Headers = tuple[tuple[str, str], ...]


@read_only_hashable
class HttpRequest:
    method: str
    path: str
    query: str
    #: lower-cased names; a repeated header keeps its last value
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


@read_only_hashable
class Response:
    status: int
    headers: Headers
    body: bytes


@read_only_hashable
class StreamResponse:
    """A chunked response whose frames are sent `delay_s` apart (all in one write when 0)."""

    status: int
    headers: Headers
    frames: tuple[bytes, ...]
    delay_s: float = 0.0
    #: a latency profile: paced before anything is sent (the time to first token), and before the frames from
    #: `tail_at` on (the rest of the generation); `pace` spends the time (anyio.sleep, or a test clock's move)
    first_pause_s: float = 0.0
    tail_pause_s: float = 0.0
    tail_at: int = 0
    pace: Callable[[float], Awaitable[None]] | None = None


Action = Response | StreamResponse | Literal["hang", "reset"]
Handler = Callable[[HttpRequest], Awaitable[Action]]


class BadRequest(Exception):
    """The bytes on the socket are not an HTTP/1.1 request this server understands."""


class _Reader:
    def __init__(self, stream: SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self) -> bool:
        try:
            data = await self._stream.receive(_RECEIVE_BYTES)
        except _CLOSED:
            return False
        self._buffer += data
        return True

    async def _read_until(self, marker: bytes) -> bytes | None:
        while (end := self._buffer.find(marker)) < 0:
            if len(self._buffer) > _MAX_HEAD_BYTES or not await self._fill():
                return None
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(marker)]
        return data

    async def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not await self._fill():
                raise BadRequest("connection closed inside the body")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = await self._read_until(b"\r\n")
            if line is None:
                raise BadRequest("connection closed inside a chunked body")
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                while await self._read_until(b"\r\n"):  # trailers, up to the empty line
                    pass
                return bytes(body)
            body += await self._read_exact(size)
            await self._read_exact(2)

    async def read_request(self) -> HttpRequest | None:
        """The next request on the connection; None when the client closed it."""
        head = await self._read_until(b"\r\n\r\n")
        if head is None:
            return None
        try:
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._read_chunked()
            else:
                body = await self._read_exact(int(headers.get("content-length", "0")))
        except ValueError as error:
            raise BadRequest(str(error)) from error
        path, _, query = target.partition("?")
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        return HttpRequest(method, path, query, headers, body, keep_alive)

    async def wait_closed(self) -> None:
        """Swallow input until the client closes the connection (how a hung request ends)."""
        while await self._fill():
            self._buffer.clear()


def _head(status: int, headers: Headers, framing: str, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(framing)
    if not keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(frame: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(frame), frame)


async def _send(stream: SocketStream, response: Response | StreamResponse, keep_alive: bool) -> None:
    if isinstance(response, Response):
        framing = f"content-length: {len(response.body)}"
        await stream.send(_head(response.status, response.headers, framing, keep_alive) + response.body)
        return
    head = _head(response.status, response.headers, "transfer-encoding: chunked", keep_alive)
    if response.pace is not None:
        await _send_paced(stream, response, head, response.pace)
        return
    if response.delay_s <= 0:
        await stream.send(head + b"".join(_chunk(frame) for frame in response.frames if frame) + b"0\r\n\r\n")
        return
    await stream.send(head)
    for index, frame in enumerate(response.frames):
        if index:
            await anyio.sleep(response.delay_s)
        if frame:
            await stream.send(_chunk(frame))
    await stream.send(b"0\r\n\r\n")


async def _send_paced(
    stream: SocketStream, response: StreamResponse, head: bytes, pace: Callable[[float], Awaitable[None]]
) -> None:
    """A stream under a latency profile: the first frames after the time to first token, the rest after the
    generation time."""
    frames = response.frames
    if response.first_pause_s > 0:
        await pace(response.first_pause_s)
    await stream.send(head + b"".join(_chunk(frame) for frame in frames[: response.tail_at] if frame))
    if response.tail_pause_s > 0:
        await pace(response.tail_pause_s)
    await stream.send(b"".join(_chunk(frame) for frame in frames[response.tail_at :] if frame) + b"0\r\n\r\n")


def _reset_on_close(stream: SocketStream) -> None:
    """Make the coming close send a TCP RST instead of a FIN: the client sees a connection reset."""
    raw: socket.socket = stream.extra(SocketAttribute.raw_socket)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _internal_error(error: Exception) -> Response:
    body = f'{{"error": "simulator failure: {type(error).__name__}"}}'.encode()
    return Response(500, (("content-type", "application/json"),), body)


async def _answer(stream: SocketStream, reader: _Reader, handler: Handler, request: HttpRequest) -> bool:
    """Answer one request; False when the connection must close afterwards."""
    try:
        action = await handler(request)
    except Exception as error:  # a simulator bug must not take the whole server down with it
        log.exception("simulator handler failed on %s %s", request.method, request.path)
        action = _internal_error(error)
    if action == "reset":
        _reset_on_close(stream)
        return False
    if action == "hang":
        await reader.wait_closed()
        return False
    await _send(stream, action, request.keep_alive)
    return request.keep_alive


async def serve_connection(stream: SocketStream, handler: Handler) -> None:
    """Serve requests on one keep-alive connection until either side closes it."""
    async with stream:
        reader = _Reader(stream)
        try:
            while (request := await reader.read_request()) is not None:
                if not await _answer(stream, reader, handler, request):
                    return
        except BadRequest:
            with contextlib.suppress(*_CLOSED):
                await stream.send(_head(400, (), "content-length: 0", False))
        except _CLOSED:
            return
