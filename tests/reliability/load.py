"""Several `python -m server.serve` processes sharing one database, each with many concurrent callers, against the
simulator with random faults; then the shared ledger is audited. Used by test_load.py (short in CI, long as slow)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from providers.simulator import Fault, Simulator
from server.config.paths import Paths
from server.wiring.app import open_app
from tests.clock import FixedClock, fixed_epoch
from tests.harness import ENV, write_config
from tests.reliability.stdio import RawServer, raw_server
from tests.reliability.support import BACKUP, KINDS, matrix_accounts, matrix_config

#: faults that pass: an account comes back within seconds (auth, a retired model or an exhausted quota would take
#: it out for the rest of the run, and the matrix covers those)
TRANSIENT: tuple[Fault, ...] = (
    "rate_limited",
    "server_error",
    "bad_gateway",
    "unavailable",
    "overloaded",
    "reset",
    "malformed",
    "error_in_stream",
    "truncated_stream",
    "timeout",
)
#: a rate limit (Retry-After: 1) most often; the others cool an account for 5-10 s, so they come rarer
_RATE_LIMITED: Fault = "rate_limited"
WEIGHTED: tuple[Fault, ...] = (*[_RATE_LIMITED] * 6, *TRANSIENT)
ACCOUNTS = (*KINDS, BACKUP)
PRICED = {"inputCostPer1M": 2.0, "outputCostPer1M": 8.0}
TASKS = ("coding", "reasoning", "creative", "simple")


@dataclass
class LoadReport:
    calls: int = 0
    served: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0
    locked: list[str] = field(default_factory=list)
    rss_kb: dict[int, list[int]] = field(default_factory=dict)
    served_cost_nusd: int = 0
    stderr: list[str] = field(default_factory=list)
    succeeded_upstream: dict[str, int] = field(default_factory=dict)


def load_config(sim: Simulator, budget_usd: float) -> dict[str, Any]:
    """The matrix line-up with every model priced (so the ledger has cents to count) and a global daily budget."""
    config = matrix_config(sim, settings={"requestTimeoutS": 5, "deadlineS": 30})
    for provider in config["providers"].values():
        for model in provider["models"].values():
            model.update(PRICED)
    config["preferences"]["budgetUsd"] = {"daily": budget_usd}
    return config


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _caller(server: RawServer, report: LoadReport, stop: anyio.Event, seed: int) -> None:
    randomly = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        arguments: dict[str, Any] = {
            "prompt": f"Task {seed}-{n}: write a function that adds two numbers",
            "task_type": randomly.choice(TASKS),
            "max_output_tokens": 64,
        }
        if randomly.random() < 0.3:
            arguments["provider"] = randomly.choice(ACCOUNTS)
        with anyio.fail_after(60):  # a deadlock fails the run here
            result = await server.call("route_and_complete", arguments)
        report.calls += 1
        text = " ".join(block.get("text", "") for block in result.get("content", []))
        if "locked" in text.lower():
            report.locked.append(text[:300])
        if result.get("isError"):
            report.errors[text.split(":", 2)[1].strip()[:60] if ":" in text else text[:60]] += 1
            await anyio.sleep(0.1)  # an agent told that nothing can serve does the task itself, it does not spin
        else:
            report.served += 1
            report.served_cost_nusd += round(result["structuredContent"]["cost_usd"] * 1_000_000_000)


async def _faults(sim: Simulator, report: LoadReport, stop: anyio.Event, seed: int, rate: float) -> None:
    randomly = random.Random(seed)
    while not stop.is_set():
        account = randomly.choice(ACCOUNTS)
        faults = [randomly.choice(WEIGHTED) if randomly.random() < rate else None for _ in range(2)]
        sim.script(account, faults)
        await anyio.sleep(0.2)


async def _sample_memory(servers: list[RawServer], report: LoadReport, stop: anyio.Event, every_s: float) -> None:
    while not stop.is_set():
        for server in servers:
            report.rss_kb.setdefault(server.pid, []).append(rss_kb(server.pid))
        with anyio.move_on_after(every_s):
            await stop.wait()


async def run_load(
    home: Path,
    *,
    processes: int,
    concurrency: int,
    duration_s: float,
    fault_rate: float = 0.5,
    budget_usd: float = 1000.0,
    seed: int = 8,
) -> LoadReport:
    """Run the load, stop the callers, let every call finish, stop the servers; the database is left to audit."""
    report = LoadReport()
    async with Simulator(matrix_accounts(latency_ms=5), clock=fixed_epoch) as sim:
        write_config(home, load_config(sim, budget_usd))
        async with _servers(home, processes) as servers:
            stop = anyio.Event()
            async with anyio.create_task_group() as callers:
                callers.start_soon(_faults, sim, report, stop, seed, fault_rate)
                callers.start_soon(_sample_memory, servers, report, stop, max(duration_s / 10, 0.5))
                for index, server in enumerate(servers):
                    for lane in range(concurrency):
                        callers.start_soon(_caller, server, report, stop, seed * 1000 + index * 100 + lane)
                await anyio.sleep(duration_s)
                stop.set()
            for server in servers:
                report.rss_kb.setdefault(server.pid, []).append(rss_kb(server.pid))
        report.stderr = [server.stderr.decode(errors="replace") for server in servers]
        report.succeeded_upstream = {account: sim.stats(account).succeeded for account in ACCOUNTS}
        # every failed upstream answer was a fault the servers had to survive (a script not yet consumed when the
        # next one replaced it never happened)
        report.faults_injected = sum(sim.stats(account).failed for account in ACCOUNTS)
    return report


@asynccontextmanager
async def _servers(home: Path, processes: int) -> AsyncIterator[list[RawServer]]:
    """`processes` servers on one home, started at once (each is held open by a task of its own)."""
    servers: list[RawServer] = []
    all_up, done = anyio.Event(), anyio.Event()

    async def hold() -> None:
        async with raw_server(home, ENV) as server:
            servers.append(server)
            if len(servers) == processes:
                all_up.set()
            await done.wait()

    async with anyio.create_task_group() as group:
        for _ in range(processes):
            group.start_soon(hold)
        with anyio.fail_after(60):
            await all_up.wait()
        try:
            yield servers
        finally:
            done.set()


async def audit(home: Path) -> dict[str, Any]:
    """The shared ledger after the run: every total must agree with every other."""
    async with open_app(Paths.in_home(home), ENV, clock=FixedClock()) as app:

        async def one(sql: str) -> Any:
            return next(iter(await app.store.fetchall(sql, ())))[0]

        return {
            "integrity": await one("PRAGMA integrity_check"),
            "pending": await one("SELECT COUNT(*) FROM reservations WHERE state = 'pending'"),
            "settled": await one("SELECT COUNT(*) FROM reservations WHERE state = 'settled'"),
            "settled_cost": await one("SELECT COALESCE(SUM(cost_nusd), 0) FROM reservations WHERE state = 'settled'"),
            "counted": await one(
                "SELECT COALESCE(SUM(requests), 0) FROM usage_counters WHERE account = '' AND period LIKE '____-__-__'"
            ),
            "counted_cost": await one(
                "SELECT COALESCE(SUM(cost_nusd), 0) FROM usage_counters WHERE account = '' AND period LIKE '____-__-__'"
            ),
            "attempt_cost": await one("SELECT COALESCE(SUM(cost_nusd), 0) FROM attempts"),
            "successes": await one("SELECT COUNT(*) FROM attempts WHERE outcome = 'success'"),
            "success_by_account": dict(
                await app.store.fetchall(
                    "SELECT account, COUNT(*) FROM attempts WHERE outcome = 'success' GROUP BY account", ()
                )
            ),
        }
