"""Timed rounds of calls, and the long-lived peer worker process that runs the peers' rounds."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from bench.common import BENCH, PEERS_PYTHON, PEERS_VENV, ROOT, percentile

Call = Callable[[], Awaitable[object]]
PEER_PACKAGES = ("litellm", "aiohttp", "pyinstrument", "httpx2", "anyio", "mcp")


@dataclass(frozen=True)
class Round:
    """One round: every call's latency (ms), the wall time, and the failures."""

    latencies_ms: list[float]
    elapsed_s: float
    errors: int
    #: the client process's resident memory at its highest while the round ran (sampled every 5 ms)
    peak_rss_mb: float = 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Round:
        return cls(list(raw["latencies_ms"]), float(raw["elapsed_s"]), int(raw["errors"]), raw.get("peak_rss_mb", 0.0))


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux's /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


async def _sample_rss(peak: list[float]) -> None:
    while True:
        peak[0] = max(peak[0], rss_mb())
        await anyio.sleep(0.005)


async def timed_round(call: Call, n: int, concurrency: int) -> Round:
    """`n` calls shared by `concurrency` workers; a failed call counts as an error, not a latency."""
    latencies: list[float] = []
    errors = 0
    remaining = n

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    peak = [rss_mb()]
    started = time.perf_counter()
    async with anyio.create_task_group() as sampling:
        sampling.start_soon(_sample_rss, peak)
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
        elapsed = time.perf_counter() - started
        sampling.cancel_scope.cancel()
    return Round(latencies, elapsed, errors, max(peak[0], rss_mb()))


def ensure_peers_venv() -> str | None:
    """Create bench/.venv-peers and install the peers into it (never into the project's venv).

    Returns None when ready, else why the peers cannot be measured here.
    """
    if not PEERS_PYTHON.exists():
        made = subprocess.run(["python3", "-m", "venv", str(PEERS_VENV)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            return f"could not create {PEERS_VENV.relative_to(ROOT)}: {made.stderr.strip()[-300:]}"
    check = subprocess.run([str(PEERS_PYTHON), "-c", "import litellm, aiohttp"], capture_output=True, check=False)
    if check.returncode == 0:
        return None
    installed = subprocess.run(
        [str(PEERS_PYTHON), "-m", "pip", "install", "-q", *PEER_PACKAGES], capture_output=True, text=True, check=False
    )
    if installed.returncode != 0:
        return f"`pip install litellm` failed here: {installed.stderr.strip()[-300:]}"
    return None


def peer_versions() -> dict[str, str]:
    """The installed versions of the peer packages (for the report)."""
    code = (
        f"import importlib.metadata as m, json; print(json.dumps({{p: m.version(p) for p in {list(PEER_PACKAGES)!r}}}))"
    )
    if not PEERS_PYTHON.exists():  # the peers' venv was never created (their parts did not run)
        return {}
    out = subprocess.run([str(PEERS_PYTHON), "-c", code], capture_output=True, text=True, check=False)
    return dict(json.loads(out.stdout)) if out.returncode == 0 else {}


class PeerWorker:
    """bench/peers/worker.py in the peers' venv, driven one JSON line at a time."""

    def __init__(self, bases: list[str], key: str, model: str, sim_url: str) -> None:
        args = [str(PEERS_PYTHON), str(BENCH / "peers" / "worker.py"), "--key", key, "--model", model]
        args += ["--sim", sim_url]
        for base in bases:
            args += ["--base", base]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self._read()  # {"ready": true}: LiteLLM imported

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while line := self.process.stdout.readline():
            if line.startswith("{"):  # a peer library may print its own chatter to stdout
                return dict(json.loads(line))
        raise RuntimeError("the peer worker exited (run bench/peers/worker.py by hand to see why)")

    async def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return await anyio.to_thread.run_sync(self._read)

    async def round(self, subject: str, n: int, concurrency: int) -> Round:
        return Round.of(await self.ask(op="round", subject=subject, n=n, concurrency=concurrency))

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
