"""Part 3: a `route_and_complete` call over stdio from the MCP SDK's client, against a bare MCP server whose one
tool makes the same streamed call directly with httpx2 (bench/bare_mcp.py). Same simulator process, sequential and
8 concurrent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path

from mcp import Client, StdioServerParameters

from bench.common import PROJECT_PYTHON, ROOT, Options, Section, spread
from bench.fixtures import ENV, PROMPT, SIM_KEY, sim_process, speed_accounts, write_home
from bench.overhead import pool_config
from bench.timing import Round, timed_round

MODES = (("sequential", 1), ("8 concurrent", 8))
Results = dict[str, dict[str, list[Round]]]
#: per mode and subject, per round: (server CPU, client CPU) in ms per call
Cpu = dict[str, dict[str, list[tuple[float, float]]]]


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


def _child_cpu(marker: str) -> Callable[[], float] | None:
    """The CPU seconds (user + system) used so far by this process's child whose command line contains `marker`;
    None where there is no /proc to read it from."""
    if not Path("/proc/self/stat").exists():
        return None
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if parent == os.getpid() and marker in command:
            return partial(_cpu_of, entry / "stat")
    return None


def _cpu_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(ours: Client, bare: Client, options: Options) -> tuple[Results, Cpu]:
    rounds = options.pick(5, 2)
    calls = {"ours": _tool_call(ours, "route_and_complete"), "bare": _tool_call(bare, "complete")}
    servers = {"ours": _child_cpu("provider-router"), "bare": _child_cpu("bench.bare_mcp")}
    results: Results = {mode: {"ours": [], "bare": []} for mode, _ in MODES}
    cpu: Cpu = {mode: {"ours": [], "bare": []} for mode, _ in MODES}
    for index in range(rounds + 1):  # round 0 warms up
        for mode, concurrency in MODES:
            n = options.pick(150, 30) if concurrency == 1 else options.pick(320, 64)
            for name, call in calls.items():
                server = servers[name]
                before = (server() if server else 0.0, time.process_time())
                measured = await timed_round(call, n, concurrency)
                if index > 0:
                    results[mode][name].append(measured)
                    used = (server() - before[0] if server else float("nan"), time.process_time() - before[1])
                    cpu[mode][name].append((used[0] * 1000 / n, used[1] * 1000 / n))
    return results, cpu


def _report(section: Section, results: Results, cpu: Cpu) -> None:
    rows = []
    for mode, _ in MODES:
        ours, bare = results[mode]["ours"], results[mode]["bare"]
        for key, name, runs in (
            ("ours", "**ours** route_and_complete", ours),
            ("bare", "bare MCPServer, httpx2", bare),
        ):
            rows.append(
                [
                    mode,
                    name,
                    spread([r.p50 for r in runs]).fmt(2),
                    spread([r.p99 for r in runs]).fmt(2),
                    spread([r.throughput for r in runs]).fmt(0),
                    spread([server for server, _ in cpu[mode][key]]).fmt(2),
                    spread([client for _, client in cpu[mode][key]]).fmt(2),
                    str(sum(r.errors for r in runs)),
                ]
            )
        added = spread([o.p50 - b.p50 for o, b in zip(ours, bare, strict=True)])
        added99 = spread([o.p99 - b.p99 for o, b in zip(ours, bare, strict=True)])
        pairs = list(zip(cpu[mode]["ours"], cpu[mode]["bare"], strict=True))
        server_added = spread([o[0] - b[0] for o, b in pairs])
        client_added = spread([o[1] - b[1] for o, b in pairs])
        section.data[mode] = {
            "added_p50_ms": added.median,
            "added_p99_ms": added99.median,
            "added_server_cpu_ms": server_added.median,
            "added_client_cpu_ms": client_added.median,
        }
        rows.append(
            [
                mode,
                "ours − bare",
                f"**{added.fmt(2)}**",
                added99.fmt(2),
                "",
                server_added.fmt(2),
                client_added.fmt(2),
                "",
            ]
        )
    header = ["mode", "subject", "p50 ms", "p99 ms", "calls/s", "server CPU ms/call", "client CPU ms/call", "errors"]
    section.table(header, rows)
    section.add(
        "Target: ours − bare ≤ 1 ms (p50). CPU per call (user + system, from /proc; less sensitive to other load "
        "than the latencies): the server process's, and the benchmark's own process, which is the MCP client "
        "(it parses each result and validates its structured content against the tool's outputSchema).",
        "",
    )


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
                results, cpu = await _measure(ours, bare, options)
        except Exception as error:  # the server under test may not have landed yet: say so, do not crash the run
            section.add(f"**Pending:** the MCP server could not be measured here ({type(error).__name__}: {error}).")
            return section
    section.add(
        "Both servers are spawned once over stdio by the MCP SDK's `Client` and called with the same prompt; "
        "ours routes over the part-2 pool (streamed upstream call, full bookkeeping), the bare one makes the same "
        "streamed call with httpx2 and returns the joined answer as its structured output. Median [min–max] over "
        "rounds.",
        "",
    )
    _report(section, results, cpu)
    return section
