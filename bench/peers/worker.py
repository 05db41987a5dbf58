"""The peers' side of the speed benchmarks, run by bench/.venv-peers/bin/python (never the project's venv).

Reads one JSON command per line on stdin and answers one JSON line on stdout, so the bench process can interleave
rounds of ours and theirs against the same simulator:

    {"op": "round", "subject": "litellm" | "aiohttp" | "httpx2" | "httpx2_stream", "n": 200, "concurrency": 1}
    -> {"latencies_ms": [...], "elapsed_s": 1.23, "errors": 0}
    {"op": "failover", "n": 20, "tuned": true} -> LiteLLM's call times with one deployment answering 429
    {"op": "quit"}

Peer packages are imported with importlib so the project's type check (which has no litellm) stays meaningful.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the price map from GitHub
os.environ.setdefault("LITELLM_LOG", "ERROR")

Call = Callable[[], Awaitable[None]]
PROMPT = "Rename the variable `x` to `count` in this Python function and return only the code."
MESSAGES = [{"role": "user", "content": PROMPT}]


def litellm_router(
    bases: list[str], key: str, model: str, params: dict[str, Any] | None = None, **settings: Any
) -> Any:
    """LiteLLM's Router with one deployment per simulated account, under one model group name."""
    litellm = importlib.import_module("litellm")
    setattr(litellm, "suppress_debug_info", True)  # noqa: B010 - a module typed as ModuleType
    model_list = [
        {
            "model_name": "bench",
            "litellm_params": {"model": f"openai/{model}", "api_base": base, "api_key": key, **(params or {})},
        }
        for base in bases
    ]
    return litellm.Router(model_list=model_list, **settings)


class Subjects:
    """The clients under test, each opened once and reused (as a long-running server would)."""

    def __init__(self, bases: list[str], key: str, model: str) -> None:
        self.bases, self.key, self.model = bases, key, model
        self.body = {"model": model, "messages": MESSAGES, "max_tokens": 256}
        self.headers = {"authorization": f"Bearer {key}"}
        self.url = f"{bases[0]}/chat/completions"
        self.http = httpx2.AsyncClient(timeout=httpx2.Timeout(60.0), limits=httpx2.Limits(max_connections=200))
        self.aiohttp: Any = None
        self.router: Any = None

    async def open(self) -> None:
        aiohttp = importlib.import_module("aiohttp")
        self.aiohttp = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        self.router = litellm_router(self.bases, self.key, self.model)

    async def close(self) -> None:
        await self.http.aclose()
        if self.aiohttp is not None:
            await self.aiohttp.close()

    async def httpx2(self) -> None:
        response = await self.http.post(self.url, json=self.body, headers=self.headers)
        response.raise_for_status()
        response.json()

    async def httpx2_stream(self) -> None:
        body = self.body | {"stream": True, "stream_options": {"include_usage": True}}
        async with self.http.stream("POST", self.url, json=body, headers=self.headers) as response:
            response.raise_for_status()
            await response.aread()

    async def aiohttp_call(self) -> None:
        async with self.aiohttp.post(self.url, json=self.body, headers=self.headers) as response:
            response.raise_for_status()
            await response.json()

    async def litellm(self) -> None:
        await self.router.acompletion(model="bench", messages=MESSAGES, max_tokens=256)

    def call(self, subject: str) -> Call:
        calls: dict[str, Call] = {
            "httpx2": self.httpx2,
            "httpx2_stream": self.httpx2_stream,
            "aiohttp": self.aiohttp_call,
            "litellm": self.litellm,
        }
        return calls[subject]


async def timed_round(call: Call, n: int, concurrency: int) -> dict[str, Any]:
    """`n` calls by `concurrency` workers: each call's latency, the wall time, and how many failed."""
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

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb())
            await anyio.sleep(0.005)

    started = time.perf_counter()
    async with anyio.create_task_group() as sampling:
        sampling.start_soon(sample)
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
        elapsed = time.perf_counter() - started
        sampling.cancel_scope.cancel()
    return {"latencies_ms": latencies, "elapsed_s": elapsed, "errors": errors, "peak_rss_mb": max(peak[0], rss_mb())}


def rss_mb() -> float:
    """This process's resident set size now, in MB (as bench/timing.py measures ours)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


async def _hits(subjects: Subjects, sim_url: str) -> int:
    response = await subjects.http.get(f"{sim_url}/_sim/oa1/stats")
    return int(response.json()["requests"])


async def litellm_failover(subjects: Subjects, sim_url: str, n: int, tuned: bool) -> dict[str, Any]:
    """Deployment oa1 answers every request with a 429 (Retry-After: 1); oa2 is healthy.

    Each trial builds a fresh Router (so no cooldown is remembered) and times one call. A trial whose call reached
    oa1 first is a failover; one that went straight to oa2 is the no-fault baseline. `tuned`: retries across the
    group right away (num_retries=2, retry_after=0, the SDK's own retries off); otherwise LiteLLM's defaults.
    """
    settings: dict[str, Any] = {"num_retries": 2, "retry_after": 0} if tuned else {}
    failover: list[float] = []
    direct: list[float] = []
    await subjects.http.post(f"{sim_url}/_sim/oa1/down", json="rate_limited")
    try:
        for _ in range(n):
            params = {"max_retries": 0} if tuned else None
            router = litellm_router(subjects.bases, subjects.key, subjects.model, params, **settings)
            before = await _hits(subjects, sim_url)
            started = time.perf_counter()
            try:
                await router.acompletion(model="bench", messages=MESSAGES, max_tokens=256)
            except Exception:
                continue
            elapsed = (time.perf_counter() - started) * 1000
            (failover if await _hits(subjects, sim_url) > before else direct).append(elapsed)
    finally:
        await subjects.http.post(f"{sim_url}/_sim/oa1/down", json=None)
    return {"failover_ms": failover, "direct_ms": direct}


async def serve(args: argparse.Namespace) -> None:
    subjects = Subjects(args.base, args.key, args.model)
    await subjects.open()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "quit":
                break
            if command["op"] == "failover":
                result = await litellm_failover(subjects, args.sim, command["n"], command["tuned"])
            else:
                result = await timed_round(subjects.call(command["subject"]), command["n"], command["concurrency"])
            print(json.dumps(result), flush=True)
    finally:
        await subjects.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", action="append", required=True, help="an OpenAI base URL (once per deployment)")
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--sim", required=True, help="the simulator's root URL (for its /_sim control endpoints)")
    anyio.run(serve, parser.parse_args())


if __name__ == "__main__":
    main()
