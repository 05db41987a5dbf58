"""`python -m server.serve` in a subprocess, spoken to in raw JSON-RPC so a test holds its pid (to SIGKILL it).

The servers run on the suite's clock (tests/on_test_clock.py), never on the machine's date."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

from tests.clock import on_test_clock, suite_clock_environ

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "2025-06-18"
#: a line of JSON-RPC can carry a long answer
MAX_LINE = 16 * 1024 * 1024


def server_environ(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The thin environment an agent gives the server (see ENVIRONMENT_NOTES.md), plus the home and `extra`."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {
        **keep,
        "PROVIDER_ROUTER_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PROVIDER_ROUTER_LOG_LEVEL": "DEBUG",
        **suite_clock_environ(),
        **extra,
    }


@dataclass
class RawServer:
    """One server process; `call` sends tools/call and waits for its answer."""

    process: Process
    stderr: bytearray = field(default_factory=bytearray)
    _next_id: int = 1
    _waiting: dict[int, anyio.Event] = field(default_factory=dict)
    _answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed: anyio.Event = field(default_factory=anyio.Event)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send((json.dumps(message) + "\n").encode())

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request and wait for its answer; raises EOFError if the server died first."""
        ident = self._next_id
        self._next_id += 1
        done = self._waiting[ident] = anyio.Event()
        await self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        async with anyio.create_task_group() as group:

            async def on_close() -> None:
                await self.closed.wait()
                done.set()

            group.start_soon(on_close)
            await done.wait()
            group.cancel_scope.cancel()
        if ident not in self._answers:
            raise EOFError("the server went away before answering")
        return self._answers.pop(ident)

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tools/call result (`isError`, `content`, `structuredContent`), or the JSON-RPC error."""
        answer = await self.request("tools/call", {"name": tool, "arguments": arguments})
        return dict(answer.get("result") or {"rpc_error": answer.get("error")})

    async def read_resource(self, uri: str) -> dict[str, Any]:
        return await self.request("resources/read", {"uri": uri})

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no atexit."""
        os.kill(self.pid, signal.SIGKILL)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        lines = BufferedByteReceiveStream(self.process.stdout)
        try:
            while True:
                line = await lines.receive_until(b"\n", MAX_LINE)
                message = json.loads(line)
                ident = message.get("id")
                if isinstance(ident, int) and ident in self._waiting:
                    self._answers[ident] = message
                    self._waiting.pop(ident).set()
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            self.closed.set()

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        try:
            async for chunk in self.process.stderr:
                self.stderr.extend(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass


@asynccontextmanager
async def raw_server(home: Path, extra_env: Mapping[str, str]) -> AsyncIterator[RawServer]:
    """Start the server, complete the MCP handshake, and yield it; killed (if still alive) on the way out."""
    process = await anyio.open_process(
        on_test_clock("server.serve"),
        env=server_environ(home, extra_env),
        cwd=str(ROOT),
    )
    server = RawServer(process)
    group: TaskGroup
    async with anyio.create_task_group() as group:
        group.start_soon(server._read)
        group.start_soon(server._drain_stderr)
        try:
            with anyio.fail_after(30):
                try:
                    await server.request(
                        "initialize",
                        {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
                    )
                except EOFError:
                    await process.wait()
                    tail = server.stderr.decode(errors="replace")[-4000:]
                    raise RuntimeError(f"the server exited with {process.returncode} on start: {tail}") from None
                await server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            yield server
        finally:
            if process.returncode is None:
                process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
                await process.aclose()
            group.cancel_scope.cancel()
