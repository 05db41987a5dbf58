"""Part 7: routing quality on a simulated day — our router in each budget mode against baselines.

Each policy gets a fresh simulator and a fresh database, the same sub-tasks and the same trouble, with the clock
injected into both the router and the simulator, so a working day takes seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from bench.common import Options, Section
from bench.fixtures import bench_app
from bench.simulate.policies import Baseline, Ours, Served, best_quality, capable, cheapest, deployments, round_robin
from bench.simulate.workload import DAY_START, QUALITY_BAR, Event, SubTask, day, trouble
from bench.simulate.world import DAY_LINEUP, GOOGLE_ACCOUNTS, GOOGLE_RPD, DayClock, new_simulator, router_config
from providers.simulator import Simulator
from providers.simulator.lineup import LINEUP
from routing.preferences import BUDGET_MODES, BudgetMode

POLICIES: tuple[str, ...] = (*BUDGET_MODES, "best_quality", "round_robin", "cheapest")
LABELS = {
    "free_only": "ours, free_only",
    "cost_first": "ours, cost_first",
    "quality_first": "ours, quality_first",
    "best_quality": "baseline: always the best-quality model",
    "round_robin": "baseline: round-robin",
    "cheapest": "baseline: LiteLLM cost-based routing (modelled)",
}
#: after a burst, the provider counts as troubled for this long when judging a switch
BURST_TROUBLE = timedelta(minutes=10)


@dataclass
class Trouble:
    """What the driver injected so far: which providers are down, and when each last got a burst."""

    down: set[str]
    burst_at: dict[str, datetime]

    def apply(self, event: Event, sim: Simulator) -> None:
        if event.burst:
            sim.script(event.account, [event.fault] * event.burst)
            self.burst_at[event.account] = event.at
        else:
            sim.set_down(event.account, event.fault)
            (self.down.add if event.fault else self.down.discard)(event.account)

    def troubled(self, provider: str, now: datetime, sim: Simulator) -> bool:
        if provider in self.down:
            return True
        burst = self.burst_at.get(provider)
        if burst is not None and now - burst < BURST_TROUBLE:
            return True
        return provider == "google" and all(sim.stats(a).succeeded >= GOOGLE_RPD for a in GOOGLE_ACCOUNTS)


@dataclass
class Turn:
    task: SubTask
    served: Served
    justified_switch: bool | None = None  # None: not a switch


async def _drive(policy: Any, sim: Simulator, clock: DayClock, tasks: list[SubTask]) -> list[Turn]:
    events = sorted(trouble(), key=lambda e: e.at)
    state = Trouble(set(), {})
    last: dict[str, Turn] = {}
    turns: list[Turn] = []
    for index, task in enumerate(tasks):
        clock.now = task.at.astimezone(UTC)
        while events and events[0].at <= task.at:
            state.apply(events.pop(0), sim)
        served = await policy.serve(task, index)
        turn = Turn(task, served)
        previous = last.get(task.conversation) if task.conversation else None
        if previous is not None and served.ok and previous.served.ok and served.provider != previous.served.provider:
            prev_provider = previous.served.provider or ""
            failed_there = any(t.provider == prev_provider and t.error_class for t in served.tried)
            turn.justified_switch = (
                failed_there or task.task_type != previous.task.task_type or state.troubled(prev_provider, task.at, sim)
            )
        if task.conversation and served.ok:
            last[task.conversation] = turn
        turns.append(turn)
    return turns


async def _run_policy(name: str, tasks: list[SubTask]) -> tuple[list[Turn], list[Any], float]:
    clock = DayClock(DAY_START.astimezone(UTC))
    sim = new_simulator(clock)
    mode: BudgetMode = name if name in BUDGET_MODES else "quality_first"
    async with sim, bench_app(router_config(sim, mode), clock=clock) as app:
        policy: Any
        if name in BUDGET_MODES:
            policy = Ours(app, mode)
        else:
            order = {"best_quality": best_quality, "round_robin": round_robin, "cheapest": cheapest}[name]
            policy = Baseline(name, app, order, clock)
        started = time.perf_counter()
        with anyio.fail_after(1800):
            turns = await _drive(policy, sim, clock, tasks)
        return turns, deployments(app), time.perf_counter() - started


def _summary(turns: list[Turn], fleet: list[Any]) -> dict[str, Any]:
    total = len(turns)
    ok = [t for t in turns if t.served.ok]
    capable_count = sum(
        1
        for t in ok
        if capable(t.served.model, t.served.provider, t.task.task_type, QUALITY_BAR[t.task.task_type], fleet)
    )
    conv_turns = [t for t in turns if t.task.conversation and t.task.turn > 0]
    switches = [t for t in turns if t.justified_switch is not None]
    unjustified = sum(1 for t in switches if not t.justified_switch)
    tried = [x for t in turns for x in t.served.tried]
    return {
        "requests": total,
        "served": len(ok),
        "availability": len(ok) / total if total else 0.0,
        "cost_usd": sum(t.served.cost_usd for t in ok),
        "capable_share": capable_count / total if total else 0.0,
        "conversation_turns": len(conv_turns),
        "switches": len(switches),
        "unjustified_switches": unjustified,
        "switch_accuracy": 1 - unjustified / len(conv_turns) if conv_turns else 1.0,
        "quota_exhausted_answers": sum(1 for x in tried if x.error_class == "quota_exhausted"),
        "rate_limited_answers": sum(1 for x in tried if x.error_class == "rate_limited"),
        "upstream_errors": sum(1 for x in tried if x.error_class and x.error_class != "skipped"),
        "by_model": _by_model(ok),
    }


def _by_model(ok: list[Turn]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in ok:
        key = f"{t.served.provider}/{t.served.model}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _row(name: str, s: dict[str, Any], best_cost: float) -> list[str]:
    change = s["cost_usd"] / best_cost - 1 if best_cost > 0 else float("nan")
    return [
        LABELS[name],
        f"{s['availability']:.2%} ({s['served']}/{s['requests']})",
        f"${s['cost_usd']:.2f}",
        f"{change:+.0%}".replace("-", "−") if name != "best_quality" else "—",
        f"{s['capable_share']:.1%}",
        f"{s['switches']} ({s['unjustified_switches']} unforced)",
        f"{s['switch_accuracy']:.1%}",
        str(s["quota_exhausted_answers"]),
        str(s["rate_limited_answers"]),
    ]


async def run(options: Options) -> Section:
    section = Section("simulate", "7. Routing quality on a simulated day (bench/simulate)")
    tasks = day(options.pick(600, 150))
    summaries: dict[str, dict[str, Any]] = {}
    for name in POLICIES:
        turns, fleet, seconds = await _run_policy(name, tasks)
        summaries[name] = _summary(turns, fleet) | {"wall_s": seconds}
    section.data = summaries
    best_cost = summaries["best_quality"]["cost_usd"]
    convs = len({t.conversation for t in tasks if t.conversation})
    section.add(*_describe(tasks, convs), "")
    section.table(
        [
            "policy",
            "availability",
            "cost",
            "cost vs best-quality",
            "on a capable model",
            "mid-conversation switches",
            "switch accuracy",
            "quota-exhausted answers",
            "429 answers",
        ],
        [_row(name, summaries[name], best_cost) for name in POLICIES],
    )
    section.add("Where each policy sent the served requests:", "")
    section.table(
        ["policy", "served by (requests)", "wall time"],
        [
            [LABELS[n], ", ".join(f"{k} {v}" for k, v in s["by_model"].items()), f"{s['wall_s']:.1f} s"]
            for n, s in summaries.items()
        ],
    )
    section.add(*_verdict(summaries))
    return section


def _describe(tasks: list[SubTask], conversations: int) -> list[str]:
    mix: dict[str, int] = {}
    for t in tasks:
        mix[t.task_type] = mix.get(t.task_type, 0) + 1
    events = "; ".join(
        f"{e.at:%H:%M} {e.account} "
        + (f"{e.burst}× {e.fault}" if e.burst else (f"down ({e.fault})" if e.fault else "back"))
        for e in trouble()
    )
    bars = ", ".join(f"{k} ≥ {v}" for k, v in QUALITY_BAR.items())
    model = {seat.provider: DAY_LINEUP.model(seat) for seat in LINEUP}
    return [
        f"**The day** (Pacific time, clock injected into the router and the simulator): {len(tasks)} sub-tasks "
        f"between 08:00 and 20:00 ({', '.join(f'{k} {v}' for k, v in mix.items())}); {conversations} "
        f"conversations of 8–24 turns; prompts from ~80 to ~220K tokens (3 % above 130K); every answer 400 tokens.",
        f"**Providers**: the seed's — Z.AI {model['zai']}, Kimi {model['kimi']}, a pool of three free Google "
        f"accounts ({model['google']}, 5 RPM and {GOOGLE_RPD} requests/day each, enforced by the simulator), OpenAI "
        f"{model['openai']}, Anthropic {model['anthropic']}; prices and quality scores from the catalogue; the "
        "seed's preference lists.",
        f"**Trouble**: {events}; plus Google's real limits.",
        f"**Capable** = the catalogue scores the serving model at or above the task type's bar ({bars}); failures "
        "count as not capable. **Switch accuracy** = conversation turns (after the first) whose stay-or-switch was "
        "right: a switch is right when the previous provider was down, in a burst (10 min), out of quota, failed "
        "in that request, or the task type changed; an unforced switch is wrong. Baselines fall back down their "
        "own order on any error; the LiteLLM baseline is its cost-based policy (cheapest first, 5 s cooldown "
        "after a failure, its defaults) re-implemented here, since LiteLLM's cooldowns run on the wall clock and "
        "cannot follow an injected one.",
        "",
    ]


def _verdict(s: dict[str, dict[str, Any]]) -> list[str]:
    best = s["best_quality"]["cost_usd"]
    lines = ["", "Against the targets:"]
    for mode in BUDGET_MODES:
        ours = s[mode]
        change = ours["cost_usd"] / best - 1 if best > 0 else float("nan")
        lines.append(
            f"- {mode}: cost {change:+.0%} vs always-best (target −60 % or lower; seed −30 %), "
            f"{ours['capable_share']:.1%} on a capable model (target ≥ 95 %), availability "
            f"{ours['availability']:.2%} (seed ≥ 99.9 %), switch accuracy {ours['switch_accuracy']:.1%} (seed ≥ 95 %)."
        )
    return lines
