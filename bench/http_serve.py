"""Part 9: `provider-router serve --http` (one process, on SQLite and then on PostgreSQL) driven by 32 MCP clients
at once, each with its own session and a member's bearer token, next to one client calling in sequence. Same
simulator process as part 2. PostgreSQL is a throwaway cluster started like the tests' (Debian's `postgresql`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.common import PROJECT_PYTHON, ROOT, Options, Section, spread
from bench.fixtures import PROMPT, SIM_KEY, sim_process, speed_accounts, write_home
from bench.overhead import pool_config
from bench.timing import Round

CLIENTS = 32


def _env(home: Path, database: dict[str, str]) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return (
        base
        | database
        | {
            "PROVIDER_ROUTER_HOME": str(home),
            "SIM_KEY": SIM_KEY,
            "PROVIDER_ROUTER_LOG_LEVEL": "WARNING",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )


def _member_token(home: Path, database: dict[str, str]) -> str:
    out = subprocess.run(
        [str(PROJECT_PYTHON), "-m", "server.cli", "team", "add", "bench", "--json"],
        cwd=ROOT, env=_env(home, database), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return str(__import__("json").loads(out.stdout)["token"])


async def _round(clients: list[Client], calls_each: int) -> Round:
    latencies: list[float] = []
    errors = 0

    async def worker(client: Client) -> None:
        nonlocal errors
        for _ in range(calls_each):
            started = time.perf_counter()
            result = await client.call_tool("route_and_complete", {"prompt": PROMPT})
            if result.is_error:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for client in clients:
            group.start_soon(worker, client)
    return Round(latencies, time.perf_counter() - started, errors)


async def _measure(url: str, token: str, options: Options) -> dict[str, list[Round]]:
    rounds = options.pick(3, 1)
    results: dict[str, list[Round]] = {"1 client, sequential": [], f"{CLIENTS} clients at once": []}
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(CLIENTS):
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120)
            )
            clients.append(await stack.enter_async_context(Client(streamable_http_client(url, http_client=http))))
        for index in range(rounds + 1):  # round 0 warms up
            single = await _round(clients[:1], options.pick(100, 20))
            many = await _round(clients, options.pick(20, 4))
            if index > 0:
                results["1 client, sequential"].append(single)
                results[f"{CLIENTS} clients at once"].append(many)
    return results


async def _backend(options: Options, database: dict[str, str]) -> dict[str, list[Round]]:
    with sim_process(speed_accounts()) as sim, tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        home = Path(tmp)
        write_home(home, pool_config(sim))
        token = _member_token(home, database)
        process = subprocess.Popen(
            [str(PROJECT_PYTHON), "-m", "server.cli", "serve", "--http", "--port", "0"],
            cwd=ROOT, env=_env(home, database), stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split(" ", 1)[1].strip()
            return await _measure(url, token, options)
        finally:
            process.terminate()
            process.wait(timeout=30)


async def run(options: Options) -> Section:
    from storage.database_url import DATABASE_ENV
    from tests.postgres import start_postgres

    section = Section("http", f"10. `serve --http`: {CLIENTS} concurrent MCP clients, on SQLite and on PostgreSQL")
    results = {f"SQLite, {mode}": runs for mode, runs in (await _backend(options, {})).items()}
    postgres = start_postgres()
    try:
        database = {DATABASE_ENV: postgres.create_database()}
        results |= {f"PostgreSQL, {mode}": runs for mode, runs in (await _backend(options, database)).items()}
    finally:
        postgres.stop()
    section.data = {mode: [r.__dict__ for r in runs] for mode, runs in results.items()}
    section.add(
        "One `provider-router serve --http` process on a fresh router.db, then on a fresh PostgreSQL database "
        "(a local cluster on loopback TCP, fsync off as in the tests), one member (every request passes the "
        "token gate: a sha256 and one read of router.db), the simulator at 0 ms. Each client is its own MCP "
        "session over streamable HTTP (the SDK's client). Requests/s = calls served ÷ wall time of the round.",
        "",
        "Read the latencies with care: on loopback the SDK's httpx2 client spends ~45 ms per call whatever the "
        "server (a bare `MCPServer` with one `ping` tool measures the same), while `curl` gets `tools/list` from "
        "`serve --http` in ~3.5 ms; agents bring their own HTTP clients.",
        "",
    )
    section.table(
        ["mode", "p50 ms", "p99 ms", "requests/s", "errors"],
        [
            [
                mode,
                spread([r.p50 for r in runs]).fmt(2),
                spread([r.p99 for r in runs]).fmt(2),
                spread([r.throughput for r in runs]).fmt(0),
                str(sum(r.errors for r in runs)),
            ]
            for mode, runs in results.items()
        ],
    )
    return section
