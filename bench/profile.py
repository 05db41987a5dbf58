"""For the lead: where one routed request's time goes.

Two views of the same sequential requests through `app.router.route` against a simulator process at 0 ms:
- stages: every port call (storage reads and writes, the key lookup, the HTTP call) and the pure steps (analyse,
  decide) timed in place by wrappers, per request;
- cProfile: the functions with the most own time, with calls per request (aiosqlite round trips show up here).
"""

from __future__ import annotations

import cProfile
import dataclasses
import pstats
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import routing.router as router_module
from bench.common import Options, Section
from bench.fixtures import bench_app, sim_process, speed_accounts
from bench.overhead import direct_calls, pool_config, route_call
from routing.router import Router


class Stopwatch:
    """Accumulated seconds and calls per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def wrap_async(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed

    def wrap_sync(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed


class _TimedPort:
    """A port whose coroutine methods are timed under `port.method`."""

    def __init__(self, name: str, port: Any, watch: Stopwatch) -> None:
        self._name, self._port, self._watch = name, port, watch

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._port, attr)
        if callable(value) and _is_coroutine_function(value):
            return self._watch.wrap_async(f"{self._name}.{attr}", value)
        return value


def _is_coroutine_function(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


class _TimedAdapter:
    """An adapter whose stream (the HTTP call, parsing included) is timed as `adapter.stream (HTTP call)`."""

    def __init__(self, adapter: Any, watch: Stopwatch) -> None:
        self._adapter, self._watch = adapter, watch

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._adapter, attr)

    async def stream(self, request: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        try:
            async for event in self._adapter.stream(request):
                yield event
        finally:
            self._watch.add("adapter.stream (HTTP call + SSE parsing)", time.perf_counter() - started)


@contextmanager
def _instrumented(router: Router, watch: Stopwatch) -> Iterator[None]:
    ports = router.ports
    fields = {f.name: getattr(ports, f.name) for f in dataclasses.fields(ports)}
    wrapped: dict[str, Any] = {}
    for name, port in fields.items():
        if name == "connect":
            connect = port
            wrapped[name] = watch.wrap_sync(
                "ports.connect (adapter construction)", lambda *a, _c=connect: _TimedAdapter(_c(*a), watch)
            )
        elif not callable(port) or hasattr(port, "__dict__"):
            wrapped[name] = _TimedPort(name, port, watch)
    originals = {name: getattr(router_module, name) for name in ("analyse", "decide", "decision_entry", "route_result")}
    router.ports = dataclasses.replace(ports, **wrapped)
    for name, fn in originals.items():
        setattr(router_module, name, watch.wrap_sync(name, fn))
    try:
        yield
    finally:
        router.ports = ports
        for name, fn in originals.items():
            setattr(router_module, name, fn)


async def _stages(router: Router, n: int) -> tuple[Stopwatch, float]:
    watch = Stopwatch()
    call = route_call(router)
    with _instrumented(router, watch):
        started = time.perf_counter()
        for _ in range(n):
            await call()
        total = time.perf_counter() - started
    return watch, total


async def _cprofile(router: Router, n: int) -> pstats.Stats:
    call = route_call(router)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        await call()
    profiler.disable()
    return pstats.Stats(profiler)


def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"`{func}` ({file}:{line})" if line else f"`{func}`"


def _top(stats: pstats.Stats, n: int, limit: int = 20) -> list[list[str]]:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    ordered = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    rows = []
    for key, (_cc, ncalls, tottime, cumtime, _callers) in ordered:
        rows.append([_where(key), f"{ncalls / n:.1f}", f"{tottime / n * 1000:.3f}", f"{cumtime / n * 1000:.3f}"])
    return rows


def _matching(stats: pstats.Stats, n: int, needles: tuple[str, ...]) -> list[list[str]]:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for key, (_cc, ncalls, _tottime, cumtime, _callers) in table.items():
        text = f"{key[0]}:{key[2]}"
        if any(needle in text for needle in needles):
            rows.append((cumtime, [_where(key), f"{ncalls / n:.1f}", f"{cumtime / n * 1000:.3f}"]))
    return [row for _, row in sorted(rows, key=lambda r: r[0], reverse=True)[:12]]


def _connects(stats: pstats.Stats) -> int:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(v[1] for k, v in table.items() if k[2] == "<method 'connect' of '_socket.socket' objects>")


async def _floor_connects(call: Callable[[], Any], n: int) -> float:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        await call()
    profiler.disable()
    return _connects(pstats.Stats(profiler)) / n


def _hand_offs(stats: pstats.Stats) -> int:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(v[1] for k, v in table.items() if "put_nowait" in k[2] and "SimpleQueue" in k[2])


async def run(options: Options) -> Section:
    section = Section("profile", "Where the router's overhead goes (for the routing helper)")
    n = options.pick(300, 40)
    with sim_process(speed_accounts()) as sim:
        async with bench_app(pool_config(sim)) as app:
            for _ in range(20):  # warm: connections, tokenizer, caches
                await route_call(app.router)()
            watch, total = await _stages(app.router, n)
            stats = await _cprofile(app.router, n)
            floor = direct_calls(app.http, f"{sim.base_url('oa1')}/chat/completions")["httpx2_stream"]
            floor_connects = await _floor_connects(floor, n)
    per = total / n * 1000
    section.add(
        f"{n} sequential requests (the part-2 setup: one simulator process, 0 ms, pool of two). "
        f"Wall time per request with the stage timers on: **{per:.2f} ms**.",
        "",
        "**Stages** (ms per request, wall time; storage calls include their wait for the aiosqlite thread):",
        "",
    )
    rows = sorted(watch.seconds.items(), key=lambda item: item[1], reverse=True)
    accounted = sum(watch.seconds.values())
    section.table(
        ["stage", "calls per request", "ms per request", "share"],
        [
            [f"`{name}`", f"{watch.calls[name] / n:.1f}", f"{sec / n * 1000:.3f}", f"{sec / total:.0%}"]
            for name, sec in rows
        ]
        + [
            [
                "everything else (router glue, event loop)",
                "",
                f"{(total - accounted) / n * 1000:.3f}",
                f"{(total - accounted) / total:.0%}",
            ]
        ],
    )
    section.data = {"per_request_ms": per, "stages_ms": {k: v / n * 1000 for k, v in watch.seconds.items()}}
    section.add(
        "**cProfile, top own time** (per request; `cum` includes callees; waits in the loop show up as epoll):", ""
    )
    section.table(["function", "calls/request", "own ms", "cum ms"], _top(stats, n))
    section.add(
        f"**TCP connections opened per request**: ours **{_connects(stats) / n:.2f}**, the direct streamed floor on "
        f"the same client {floor_connects:.2f} (a pooled connection is reused only when the response is read to "
        "its end before the stream is closed).",
        "",
    )
    hops = _hand_offs(stats) / n
    section.add(
        f"**Storage round trips**: **{hops:.1f}** operations per request handed to aiosqlite's thread "
        "(`SimpleQueue.put_nowait` calls; each is a thread hop and a wake-up of the loop). Entry points, per request "
        "(coroutine `calls` count resumptions):",
        "",
    )
    section.table(
        ["function", "calls/request", "cum ms"],
        _matching(
            stats,
            n,
            (
                "aiosqlite/core.py:execute",
                "aiosqlite/core.py:_execute",
                "aiosqlite/core.py:commit",
                "aiosqlite/cursor.py:fetch",
                "storage/db.py",
            ),
        ),
    )
    return section
