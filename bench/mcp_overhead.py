"""Part 3: a `route_and_complete` call over stdio from the MCP SDK's client, against a bare MCP server whose one
tool makes the direct httpx2 call (bench/bare_mcp.py). Same simulator process, sequential and 8 concurrent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

from mcp import Client, StdioServerParameters

from bench.common import PROJECT_PYTHON, ROOT, Options, Section, spread
from bench.fixtures import ENV, PROMPT, SIM_KEY, sim_process, speed_accounts, write_home
from bench.overhead import pool_config
from bench.timing import Round, timed_round

MODES = (("sequential", 1), ("8 concurrent", 8))


def _env(**extra: str) -> dict[str, str]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return base | extra


def _tool_call(client: Client, tool: str) -> Callable[[], Awaitable[object]]:
    async def call() -> None:
        result = await client.call_tool(tool, {"prompt": PROMPT})
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")

    return call


async def _open(stack: AsyncExitStack, command: str, args: list[str], env: dict[str, str]) -> Client:
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(ROOT))
    return await stack.enter_async_context(Client(params))


async def _measure(ours: Client, bare: Client, options: Options) -> dict[str, dict[str, list[Round]]]:
    rounds = options.pick(5, 2)
    calls = {"ours": _tool_call(ours, "route_and_complete"), "bare": _tool_call(bare, "complete")}
    results: dict[str, dict[str, list[Round]]] = {mode: {"ours": [], "bare": []} for mode, _ in MODES}
    for index in range(rounds + 1):  # round 0 warms up
        for mode, concurrency in MODES:
            n = options.pick(150, 30) if concurrency == 1 else options.pick(320, 64)
            for name, call in calls.items():
                measured = await timed_round(call, n, concurrency)
                if index > 0:
                    results[mode][name].append(measured)
    return results


def _report(section: Section, results: dict[str, dict[str, list[Round]]]) -> None:
    rows = []
    for mode, _ in MODES:
        ours, bare = results[mode]["ours"], results[mode]["bare"]
        for name, runs in (("**ours** route_and_complete", ours), ("bare MCPServer, direct httpx2", bare)):
            rows.append(
                [
                    mode,
                    name,
                    spread([r.p50 for r in runs]).fmt(2),
                    spread([r.p99 for r in runs]).fmt(2),
                    spread([r.throughput for r in runs]).fmt(0),
                    str(sum(r.errors for r in runs)),
                ]
            )
        added = spread([o.p50 - b.p50 for o, b in zip(ours, bare, strict=True)])
        added99 = spread([o.p99 - b.p99 for o, b in zip(ours, bare, strict=True)])
        section.data[mode] = {"added_p50_ms": added.median, "added_p99_ms": added99.median}
        rows.append([mode, "ours − bare", f"**{added.fmt(2)}**", added99.fmt(2), "", ""])
    section.table(["mode", "subject", "p50 ms", "p99 ms", "calls/s", "errors"], rows)
    section.add("Target: ours − bare ≤ 1 ms (p50).", "")


async def run(options: Options) -> Section:
    section = Section("mcp", "3. MCP overhead: route_and_complete over stdio vs a bare MCP server")
    exe = shutil.which("provider-router", path=str(PROJECT_PYTHON.parent)) or "provider-router"
    with sim_process(speed_accounts()) as sim, tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
        home = Path(tmp)
        write_home(home, pool_config(sim))
        try:
            async with AsyncExitStack() as stack:
                ours = await _open(stack, exe, ["serve"], _env(**ENV, PROVIDER_ROUTER_HOME=str(home)))
                bare_env = _env(BENCH_SIM_URL=sim.base_url("oa1"), BENCH_SIM_KEY=SIM_KEY)
                bare = await _open(stack, str(PROJECT_PYTHON), ["-m", "bench.bare_mcp"], bare_env)
                results = await _measure(ours, bare, options)
        except Exception as error:  # the server under test may not have landed yet: say so, do not crash the run
            section.add(f"**Pending:** the MCP server could not be measured here ({type(error).__name__}: {error}).")
            return section
    section.add(
        "Both servers are spawned once over stdio by the MCP SDK's `Client` and called with the same prompt; "
        "ours routes over the part-2 pool (streamed upstream call, full bookkeeping), the bare one posts once "
        "with httpx2. Median [min–max] over rounds.",
        "",
    )
    _report(section, results)
    return section
