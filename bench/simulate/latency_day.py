"""Part `latency`: the simulated day with per-account latency profiles, routed with latency-aware routing and
without it (the same router reading no speed figures: its latency part is the whole-call p50 it had before).

Both runs get the same sub-tasks, profiles and slowdowns on a fresh simulator and database; the simulator's pace
moves the day's clock, so completion times are simulated seconds, measured by the driver around each request.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio

from bench.common import Options, Section
from bench.fixtures import bench_app
from bench.simulate.policies import Ours
from bench.simulate.workload import DAY_START, SubTask, day
from bench.simulate.world import DayClock, new_simulator, router_config
from providers.simulator import Simulator
from routing.ports import Seed, StatePort, StateView
from storage.latency import percentile

#: account -> (time to first token ms, output tokens/s): typical of each vendor's hosted API
PROFILES: dict[str, tuple[float, float]] = {
    "zai": (1200.0, 60.0),
    "kimi": (1500.0, 40.0),
    "google-1": (500.0, 150.0),
    "google-2": (500.0, 150.0),
    "google-3": (500.0, 150.0),
    "openai": (800.0, 80.0),
    "anthropic": (1000.0, 70.0),
}
JITTER = 0.3


@dataclass(frozen=True)
class Slowdown:
    at_hour: int
    account: str
    factor: float


#: the day's degradations: one Google account ×8 for five hours, OpenAI ×4 for two, Anthropic ×3 for one
SLOWDOWNS = (
    Slowdown(9, "google-3", 8.0),
    Slowdown(14, "google-3", 1.0),
    Slowdown(11, "openai", 4.0),
    Slowdown(13, "openai", 1.0),
    Slowdown(16, "anthropic", 3.0),
    Slowdown(17, "anthropic", 1.0),
)


class WithoutSpeed:
    """The router's state port with the speed figures left out: routing as it was before latency-aware routing."""

    def __init__(self, inner: StatePort) -> None:
        self.inner = inner

    async def view(self, seeds: Sequence[Seed], conversation_id: str | None, now: datetime) -> StateView:
        view = await self.inner.view(seeds, conversation_id, now)
        plain = [replace(c, speed=None) for c in view.candidates]
        return StateView(plain, view.conversation, view.manual, None)


def _profile(sim: Simulator) -> None:
    for account, (ttft, rate) in PROFILES.items():
        sim.configure(account, ttft_ms=ttft, tokens_per_s=rate, jitter=JITTER)


async def _run(tasks: list[SubTask], latency_aware: bool) -> dict[str, Any]:
    clock = DayClock(DAY_START.astimezone(UTC))
    sim = new_simulator(clock)
    times: dict[str, list[float]] = {}
    cost = 0.0
    failed = 0
    async with sim, bench_app(router_config(sim, "quality_first"), clock=clock) as app:
        _profile(sim)
        if not latency_aware:
            app.router.ports.state = WithoutSpeed(app.router.ports.state)
        policy = Ours(app, "quality_first")
        pending = sorted(SLOWDOWNS, key=lambda s: s.at_hour)
        with anyio.fail_after(1800):
            for index, task in enumerate(tasks):
                clock.now = max(clock.now, task.at.astimezone(UTC))
                while pending and pending[0].at_hour <= task.at.hour:
                    change = pending.pop(0)
                    sim.configure(change.account, slowdown=change.factor)
                before = clock.now
                served = await policy.serve(task, index)
                if not served.ok:
                    failed += 1
                    continue
                cost += served.cost_usd
                times.setdefault(task.task_type, []).append((clock.now - before).total_seconds())
    return {"times": times, "cost_usd": cost, "failed": failed}


def _pct(values: list[float], pct: float) -> float:
    return percentile(values, pct) or 0.0


async def run(options: Options) -> Section:
    section = Section("latency", "9. Latency-aware routing on a simulated day (bench/simulate/latency_day.py)")
    tasks = day(options.pick(600, 150))
    without = await _run(tasks, latency_aware=False)
    with_latency = await _run(tasks, latency_aware=True)
    section.data = {"without": without, "with": with_latency}
    section.add(
        f"{len(tasks)} sub-tasks of the simulated day (quality_first, the seed's preferences), every answer 400 "
        "tokens; per-account profiles (TTFT ms / tokens/s): "
        + ", ".join(f"{a} {t:g}/{r:g}" for a, (t, r) in PROFILES.items())
        + f", jitter ±{JITTER:.0%}; slowdowns: "
        + "; ".join(f"{s.at_hour}:00 {s.account} ×{s.factor:g}" for s in SLOWDOWNS)
        + ". Completion = simulated seconds from the request to the answer.",
        "",
    )
    rows = []
    for task_type in sorted(with_latency["times"]):
        a, b = without["times"].get(task_type, []), with_latency["times"][task_type]
        rows.append(
            [
                task_type,
                str(len(b)),
                f"{statistics.median(a):.1f} s → **{statistics.median(b):.1f} s**" if a else "—",
                f"{_pct(a, 95):.1f} s → **{_pct(b, 95):.1f} s**" if a else "—",
            ]
        )
    every_a = [t for ts in without["times"].values() for t in ts]
    every_b = [t for ts in with_latency["times"].values() for t in ts]
    rows.append(
        [
            "all",
            str(len(every_b)),
            f"{statistics.median(every_a):.1f} s → **{statistics.median(every_b):.1f} s**",
            f"{_pct(every_a, 95):.1f} s → **{_pct(every_b, 95):.1f} s**",
        ]
    )
    section.table(["task type", "served", "p50 without → with", "p95 without → with"], rows)
    change = with_latency["cost_usd"] / without["cost_usd"] - 1 if without["cost_usd"] else 0.0
    verdict = "meets" if change <= 0.005 else "MISSES"
    section.add(
        f"Cost: ${without['cost_usd']:.2f} without, ${with_latency['cost_usd']:.2f} with ({change:+.1%}; target: "
        f"equal or lower — {verdict}). Unserved: {without['failed']} without, {with_latency['failed']} with."
    )
    return section
