"""Part 6: four router processes on one database, eight concurrent requests each: requests/s and lost log rows.

Each process is `python -m bench.store_worker` (the router in-process, opened exactly as the MCP server's lifespan
opens it; the MCP layer is left out so the number is the store's). All four open the App, then start together.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PROJECT_PYTHON, ROOT, Options, Section, spread
from bench.fixtures import sim_process, speed_accounts, write_home
from bench.overhead import pool_config

PROCESSES, CONCURRENCY = 4, 8


def _read(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("a store worker exited early (run `python -m bench.store_worker` by hand to see why)")
    return dict(json.loads(line))


def _one_round(home: Path, n: int) -> dict[str, Any]:
    workers = [
        subprocess.Popen(
            [str(PROJECT_PYTHON), "-m", "bench.store_worker", str(home), str(n), str(CONCURRENCY)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for worker in workers:
            _read(worker)
        started = time.perf_counter()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [_read(worker) for worker in workers]
        wall = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.wait(timeout=60)
    with sqlite3.connect(home / "router.db") as db:
        decisions = db.execute("SELECT COUNT(*) FROM decisions WHERE dry_run = 0").fetchone()[0]
        attempts = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    ok = sum(r["ok"] for r in results)
    return {
        "ok": ok,
        "errors": sum(r["errors"] for r in results),
        "wall_s": wall,
        "rps": ok / wall,
        "decision_rows": decisions,
        "attempt_rows": attempts,
    }


async def run(options: Options) -> Section:
    section = Section("store", "6. Shared-store throughput: 4 processes, one database")
    rounds = options.pick(3, 1)
    n = options.pick(250, 40)
    runs = []
    with sim_process(speed_accounts()) as sim:
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
                home = Path(tmp)
                write_home(home, pool_config(sim))
                runs.append(_one_round(home, n))
    section.data = {"rounds": runs}
    lost = sum(r["ok"] - r["decision_rows"] for r in runs)
    section.add(
        f"{PROCESSES} processes × {CONCURRENCY} concurrent × {n} requests each, per round, {rounds} rounds, a fresh "
        "database each round; one simulator process at 0 ms. The processes run the router in-process "
        "(`bench/store_worker.py`, opened like the server's lifespan) rather than over MCP. "
        "Requests/s = requests served by all four ÷ wall time from the common start to the last one done.",
        "",
    )
    section.table(
        ["requests/s (all four)", "errors", "decision rows vs served requests", "attempt rows"],
        [
            [
                spread([r["rps"] for r in runs]).fmt(0),
                str(sum(r["errors"] for r in runs)),
                "; ".join(f"{r['decision_rows']} / {r['ok']}" for r in runs),
                "; ".join(str(r["attempt_rows"]) for r in runs),
            ]
        ],
    )
    section.add(f"Lost log rows: **{lost}** (target 0).", "")
    return section
