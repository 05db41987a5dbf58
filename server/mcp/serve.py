"""`provider-router serve`: the MCP server over stdio (stdout carries only the protocol, logs go to stderr).

Run as `provider-router serve` or `python -m server.serve`. Agents start it with a thin environment (often no
D-Bus address), so the session bus is located before the keychain is first used. SIGTERM ends it as a closed
stdin does: calls in flight are cancelled (their reservations released, their decisions logged `cancelled`), the
store is closed, and it exits 0.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import anyio.lowlevel

from providers.credentials import ensure_session_bus
from server.config import Paths
from server.wiring import Redactor, configure_logging

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp.shared._stream_protocols import ReadStream, WriteStream
    from mcp.shared.message import SessionMessage

    from server.mcp.state import ServerState

LOG_LEVEL_ENV = "PROVIDER_ROUTER_LOG_LEVEL"


def run_serve(args: object = None, *, environ: MutableMapping[str, str] | None = None) -> int:
    """Serve MCP over stdio until the client closes the connection; returns the exit status.

    `args` (the CLI's parsed arguments) is accepted so this is a verb handler as it stands; serve takes none.
    """
    environ = environ if environ is not None else os.environ
    redactor = Redactor()
    level = environ.get(LOG_LEVEL_ENV, "INFO").upper()
    configure_logging(redactor, level if level in logging.getLevelNamesMapping() else "INFO")
    bus_note = ensure_session_bus(environ)
    if bus_note:
        logging.getLogger(__name__).info(bus_note)

    from server.mcp.server import build_server, default_app_factory

    snapshot = dict(environ)
    server = build_server(
        default_app_factory(snapshot, redactor),
        config_source=str(Paths.from_env(snapshot).config_file),
        refresh_listings=True,
    )
    try:
        anyio.run(_serve, server)
    except KeyboardInterrupt:
        return 130
    return 0


async def _serve(server: MCPServer[ServerState]) -> None:
    """Serve over stdio until stdin closes or SIGTERM arrives."""
    async with anyio.create_task_group() as group:
        if sys.platform != "win32":  # no signal receivers on Windows' event loop; a closed stdin still ends it
            group.start_soon(_cancel_on_sigterm, group.cancel_scope)
        async with _stdio() as (read_stream, write_stream):
            lowlevel = server._lowlevel_server  # MCPServer.run_stdio_async, with our transport
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
        group.cancel_scope.cancel()


@asynccontextmanager
async def _stdio() -> AsyncIterator[tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]]:
    """The protocol's streams: on POSIX the event loop reads and writes the descriptors itself (server.mcp.stdio);
    elsewhere, or without descriptors to take, the SDK's stdio transport reading stdin through `_Lines`."""
    with _claimed_fds() as fds:
        if fds is not None:
            from server.mcp.stdio import wire_streams

            async with wire_streams(*fds) as streams:
                yield streams
            return
    from mcp.server.stdio import stdio_server

    with _wire_stdin() as stdin:
        async with stdio_server(stdin=stdin) as streams:
            yield streams


@contextmanager
def _claimed_fds() -> Iterator[tuple[int, int] | None]:
    """Private copies of fds 0 and 1 for the protocol, with fd 0 on the null device and fd 1 on stderr meanwhile
    (as the SDK's stdio does: nothing else in the process reads the protocol's bytes or writes stray ones into it);
    None on Windows or when the descriptors cannot be taken."""
    if sys.platform == "win32":
        yield None
        return
    try:
        wire_in, wire_out = _private_copy(0), _private_copy(1)
    except OSError:
        yield None
        return
    try:
        _divert(0, os.open(os.devnull, os.O_RDONLY))
        _divert(1, os.dup(2))
        yield wire_in, wire_out
    finally:
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        # left open: the event loop may still have them registered until it closes


def _private_copy(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _divert(fd: int, target: int) -> None:
    os.dup2(target, fd)
    os.close(target)


class _Lines(anyio.AsyncFile[str]):
    """The client's lines on stdin, each read on a daemon thread that a cancelled read abandons.

    anyio's own file reads run on worker threads that can neither be abandoned nor outlived by the process, so a
    server told to stop (SIGTERM) would wait for the client's next line before it could exit.
    """

    async def readline(self) -> str:
        token = anyio.lowlevel.current_token()
        done = anyio.Event()
        line: list[str] = []

        def read() -> None:
            try:
                line.append(self.wrapped.readline())
            except (OSError, ValueError):  # stdin closed under us: the same as its end
                line.append("")
            with contextlib.suppress(RuntimeError):  # the server stopped while this read waited
                anyio.from_thread.run_sync(done.set, token=token)

        threading.Thread(target=read, name="stdin-line", daemon=True).start()
        await done.wait()
        return line[0]


@contextmanager
def _wire_stdin() -> Iterator[anyio.AsyncFile[str] | None]:
    """stdin as `_Lines`, with fd 0 pointing at the null device meanwhile (as the SDK's own stdio does, so nothing
    else in the process reads the protocol's bytes); None (the SDK's stdin) when there is no fd 0 to take."""
    try:
        wire = os.dup(0)
    except OSError:
        yield None
        return
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        # closefd=False: an abandoned read may still block on `wire` until the process exits
        yield _Lines(io.TextIOWrapper(os.fdopen(wire, "rb", closefd=False), encoding="utf-8", errors="replace"))
    finally:
        os.dup2(wire, 0)


async def _cancel_on_sigterm(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            logging.getLogger(__name__).info("SIGTERM: cancelling the calls in flight, then exiting")
            scope.cancel()
            return


if __name__ == "__main__":
    sys.exit(run_serve())
