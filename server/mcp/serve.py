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
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import anyio.lowlevel

from providers.credentials import ensure_session_bus
from server.config import Paths
from server.wiring import Redactor, configure_logging

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

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
    from mcp.server.stdio import stdio_server

    with _wire_stdin() as stdin:
        async with anyio.create_task_group() as group:
            if sys.platform != "win32":  # no signal receivers on Windows' event loop; a closed stdin still ends it
                group.start_soon(_cancel_on_sigterm, group.cancel_scope)
            async with stdio_server(stdin=stdin) as (read_stream, write_stream):
                lowlevel = server._lowlevel_server  # MCPServer.run_stdio_async, with our stdin
                await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
            group.cancel_scope.cancel()


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
