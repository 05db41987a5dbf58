"""Part 5: cold start — process spawn to the answer of `initialize` over stdio, and memory (peak and idle RSS).

Ours is `provider-router serve` over a temporary home with a valid providers.json; the floor is a bare MCPServer
(bench/bare_mcp.py) and, for scale, a bare interpreter. Rounds alternate the subjects.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PROJECT_PYTHON, ROOT, Options, Section, ratio, spread
from bench.fixtures import ENV, single_provider_config, write_home

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Start:
    ms: float
    peak_rss_mb: float
    idle_rss_mb: float


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_once(args: list[str], env: dict[str, str]) -> Start | str:
    """Spawn, send `initialize`, wait for its answer; returns the timing and memory, or why it failed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
        process.stdin.flush()
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(TIMEOUT_S):
            return f"no answer to initialize within {TIMEOUT_S:.0f} s"
        line = process.stdout.readline()
        elapsed = (time.perf_counter() - started) * 1000
        if b'"result"' not in line:
            return f"unexpected answer: {line[:200]!r}"
        selector.select(0.5)  # idle half a second: work started in the background at start-up shows too
        return Start(elapsed, _status_mb(process.pid, "VmHWM"), _status_mb(process.pid, "VmRSS"))
    except (BrokenPipeError, OSError) as error:
        return f"the process died: {error}"
    finally:
        process.kill()
        process.wait()


def _subjects(home: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    exe = shutil.which("provider-router", path=str(PROJECT_PYTHON.parent)) or str(
        PROJECT_PYTHON.parent / "provider-router"
    )
    ours_env = base | dict(ENV) | {"PROVIDER_ROUTER_HOME": str(home)}
    bare_env = base | {"BENCH_SIM_URL": "http://127.0.0.1:9/v1", "BENCH_SIM_KEY": "unused"}
    return {
        "ours": ([exe, "serve"], ours_env),
        "bare": ([str(PROJECT_PYTHON), "-m", "bench.bare_mcp"], bare_env),
    }


def _interpreter_ms() -> float:
    started = time.perf_counter()
    subprocess.run([str(PROJECT_PYTHON), "-c", "pass"], check=True)
    return (time.perf_counter() - started) * 1000


async def run(options: Options) -> Section:
    section = Section("coldstart", "5. Cold start and memory")
    rounds = options.pick(7, 2)
    results: dict[str, list[Start]] = {"ours": [], "bare": []}
    failures: dict[str, str] = {}
    interpreter = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        home = Path(tmp)
        write_home(home, single_provider_config("http://127.0.0.1:9/v1"))
        subjects = _subjects(home)
        for _ in range(rounds):
            interpreter.append(_interpreter_ms())
            for name, (args, env) in subjects.items():
                if name in failures:
                    continue
                outcome = start_once(args, env)
                if isinstance(outcome, str):
                    failures[name] = outcome
                else:
                    results[name].append(outcome)
    section.data = {k: [s.__dict__ for s in v] for k, v in results.items()} | {"failures": failures}
    section.add(
        f"{rounds} rounds, subjects alternating; time from `Popen` to the `initialize` answer on stdout; peak RSS "
        "(VmHWM) and idle RSS (VmRSS) are read half a second after that answer.",
        "",
    )
    rows = [["bare interpreter (`python -c pass`)", spread(interpreter).fmt(0), "", ""]]
    labels = {"ours": "**ours** (`provider-router serve`)", "bare": "bare MCPServer, one tool (bench/bare_mcp.py)"}
    for name, label in labels.items():
        if name in failures and not results[name]:
            rows.append([label, f"not measured: {failures[name]}", "", ""])
            continue
        runs = results[name]
        rows.append(
            [
                label,
                spread([r.ms for r in runs]).fmt(0),
                spread([r.peak_rss_mb for r in runs]).fmt(1),
                spread([r.idle_rss_mb for r in runs]).fmt(1),
            ]
        )
    section.table(["subject", "spawn → initialize answer, ms", "peak RSS, MB", "idle RSS, MB"], rows)
    if results["ours"] and results["bare"]:
        ours = spread([r.ms for r in results["ours"]]).median
        bare = spread([r.ms for r in results["bare"]]).median
        idle = spread([r.idle_rss_mb for r in results["ours"]]).median
        section.add(
            f"- ours ÷ bare: **{ratio(bare, ours)}** (target ≤ 1.25×); idle RSS **{idle:.0f} MB** (target ≤ 90 MB).",
            "",
        )
    return section
