"""Part `quotas`: how much of each free account's daily quota is used before it resets, with predictive quotas
(routing/spend_order.py) and without (the pool's round-robin alone), on a steady and a bursty multi-day workload.

Three free Google accounts (20 requests/day, 5/min each) whose days reset at different times (Pacific, London and
Tokyo midnight), Z.AI as the paid fallback; all sub-tasks are `simple` (the seed ranks google first for them).
Demand is 15 % above the pool's daily quota (69 sub-tasks a day against 60), so all of it can be used: a free
request that goes unused is one the router sent to the paid fallback (or refused) while a free account had quota
left.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import anyio

import routing.decide as decide_module
from bench.common import Options, Section
from bench.fixtures import SIM_KEY, bench_app
from bench.simulate.caching import run_day, workload
from bench.simulate.world import DAY_MODELS, OUTPUT_TOKENS, DayClock
from providers.simulator import Simulator
from providers.simulator.lineup import Lineup
from providers.types import Message
from routing.results import RouteError
from routing.router import RouteRequest
from routing.score import Context, Evaluation, Group
from storage.windows import day_window

DAILY = 20
RPM = 5
#: sub-tasks a day: 15 % more than the pool's daily quota (60), so no free request need go unused
DEMAND = 69
ZONES = {"google-1": "America/Los_Angeles", "google-2": "Europe/London", "google-3": "Asia/Tokyo"}
START = datetime(2026, 11, 28, 0, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
#: the sim accounts take any number a day: the router's own ledger enforces the per-account day in its zone
LINEUP = Lineup(
    api_key=SIM_KEY, key_variable="SIM_KEY", google_daily=10**6, google_rpm=RPM, models={"kimi": DAY_MODELS["kimi"]}
)


@dataclass
class Tally:
    served: dict[str, list[datetime]] = field(default_factory=dict[str, list[datetime]])
    paid_while_free_left: int = 0
    refused_while_free_left: int = 0
    refused: int = 0
    requests: int = 0


def steady(days: int) -> list[datetime]:
    """DEMAND requests a day, evenly spread around the clock."""
    step = timedelta(days=1) / DEMAND
    return [START.astimezone(UTC) + step * i + timedelta(minutes=3) for i in range(days * DEMAND)]


def bursty(days: int, seed: int = 11, demand: int = DEMAND) -> list[datetime]:
    """DEMAND requests a day in bursts of 4–20 (10 s apart: more than the pool's 15 a minute) at random working-hour
    times (07:00–19:00 Pacific)."""
    rng = random.Random(seed)
    times: list[datetime] = []
    for d in range(days):
        left = demand
        day_start = START + timedelta(days=d, hours=7)
        while left > 0:
            size = min(left, rng.randint(4, 20))
            at = day_start + timedelta(seconds=rng.uniform(0, 12 * 3600 - size * 10))
            times.extend((at + timedelta(seconds=10 * i)).astimezone(UTC) for i in range(size))
            left -= size
    return sorted(times)


def _config(sim: Simulator) -> dict[str, Any]:
    config = LINEUP.config(sim, budgetMode="quality_first")
    google = config["providers"]["google"]
    google.pop("quota", None)
    for account in google["accounts"]:
        account["quota"] = {"requestsPerMinute": RPM, "requestsPerDay": DAILY, "timezone": ZONES[account["id"]]}
    return config


def _free_left(tally: Tally, now: datetime) -> bool:
    """Whether some free account could still take a request at `now`: requests left in its day and in its minute
    (by what it served)."""
    for account, zone in ZONES.items():
        window = day_window(now, zone)
        served = tally.served.get(account, [])
        used = sum(1 for t in served if t in window)
        last_minute = sum(1 for t in served if now - timedelta(minutes=1) < t <= now)
        if used < DAILY and last_minute < RPM:
            return True
    return False


async def _run(times: list[datetime], predictive: bool) -> Tally:
    clock = DayClock(times[0])
    sim = Simulator(LINEUP.accounts(declare_models=True, output_tokens=OUTPUT_TOKENS), clock=clock.epoch)
    tally = Tally()
    with _predictive(predictive):
        async with sim, bench_app(_config(sim), clock=clock) as app:
            for index, at in enumerate(times):
                clock.now = at
                tally.requests += 1
                request = RouteRequest(
                    messages=(Message(role="user", content=f"Summarise note {index} in a line."),),
                    task_type="simple",
                    max_output_tokens=OUTPUT_TOKENS,
                )
                free_left = _free_left(tally, at)
                try:
                    result = await app.router.route(request)
                except RouteError:
                    tally.refused += 1
                    tally.refused_while_free_left += free_left
                    continue
                if result.provider == "google":
                    tally.served.setdefault(result.account, []).append(at)
                else:
                    tally.paid_while_free_left += free_left
    return tally


@contextmanager
def _predictive(on: bool) -> Iterator[None]:
    """Without predictive quotas: decide() keeps each pool's strategy order and paces nothing (an ablation)."""
    if on:
        yield
        return

    def keep(survivors: list[Evaluation], ctx: Context) -> tuple[list[Evaluation], str | None]:
        return survivors, None

    def unpaced(groups: list[Group], ctx: Context) -> tuple[list[Group], set[tuple[str, str]]]:
        return groups, set()

    with patch.object(decide_module, "spend_order", keep), patch.object(decide_module, "pace", unpaced):
        yield


async def _caching(options: Options, section: Section) -> dict[str, Any]:
    """The day with repeated sub-tasks, with the response cache on and off."""
    asks = workload(options.pick(240, 60), options.pick(12, 3))
    with anyio.fail_after(1800):
        on, off = await run_day(asks, cache_on=True), await run_day(asks, cache_on=False)
    section.add(
        "",
        f"**A day with repeated sub-tasks**: {on['one_shot']} deterministic one-shot questions (temperature 0) "
        f"drawn with repetition from a pool of {options.pick(240, 60) // 2}, and {on['requests'] - on['one_shot']} "
        "turns of conversations (6–10 turns, 45–150 s apart) on the simulated Anthropic under a ~2,000-token "
        "system prompt that the router marks for prompt caching; the seed's line-up and preferences, "
        "quality_first.",
        "",
    )
    rows = []
    for label, r in (("response cache on", on), ("response cache off", off)):
        prompt = r["prompt_cache"]
        rows.append(
            [
                label,
                f"${r['cost_usd']:.4f}",
                f"{r['hit_rate']:.1%} ({r['hits']}/{r['one_shot']})",
                f"${r['dollars_saved']:.4f}",
                f"{prompt['hit_rate']:.1%} ({prompt['hits']}/{prompt['calls']})",
                f"{prompt['read_tokens']:,} / {prompt['write_tokens']:,}",
                f"${prompt['dollars_saved']:.4f}",
            ]
        )
    section.table(
        [
            "run",
            "cost of the day",
            "response-cache hit rate (one-shots)",
            "response cache saved",
            "prompt-cache hit rate (cached calls)",
            "prompt cache read / written (tokens)",
            "prompt cache saved",
        ],
        rows,
    )
    return {"on": on, "off": off}


def _shares(tally: Tally, first: datetime, last: datetime) -> list[float]:
    """The used share of every account-day that lies wholly inside [first, last]."""
    shares: list[float] = []
    for account, zone in ZONES.items():
        window = day_window(first, zone)
        while window.end <= last:
            if window.start >= first:
                used = sum(1 for t in tally.served.get(account, []) if t in window)
                shares.append(used / DAILY)
            window = day_window(window.end, zone)
    return shares


async def run(options: Options) -> Section:
    section = Section("quotas", "8. Predictive quotas: free quota used before it resets (bench/simulate/quotas.py)")
    days = options.pick(5, 2)
    rows: list[list[str]] = []
    data: dict[str, Any] = {}
    patterns = (
        ("steady, 115 %", steady(days)),
        ("bursty, 115 %", bursty(days)),
        ("bursty, 100 %", bursty(days, demand=len(ZONES) * DAILY)),
    )
    for pattern, times in patterns:
        for predictive in (True, False):
            with anyio.fail_after(1800):
                tally = await _run(times, predictive)
            shares = _shares(tally, times[0], times[-1] + timedelta(minutes=1))
            label = "ours, predictive" if predictive else "round-robin only"
            mean = sum(shares) / len(shares) if shares else float("nan")
            low = min(shares, default=float("nan"))
            data[f"{pattern}/{label}"] = {
                "account_days": len(shares),
                "mean_share": mean,
                "min_share": low,
                "paid_while_free_left": tally.paid_while_free_left,
                "refused_while_free_left": tally.refused_while_free_left,
                "refused": tally.refused,
                "requests": tally.requests,
            }
            rows.append(
                [
                    pattern,
                    label,
                    str(tally.requests),
                    f"{mean:.1%}",
                    f"{low:.0%}",
                    str(len(shares)),
                    str(tally.paid_while_free_left),
                    str(tally.refused_while_free_left),
                ]
            )
    section.add(
        f"**The days**: {days} days from {START:%Y-%m-%d} 00:00 Pacific; three free Google accounts ({DAILY} "
        f"requests/day and {RPM}/min each) whose days reset at Pacific, London and Tokyo midnight; Z.AI as the "
        f"paid fallback; {DEMAND} `simple` sub-tasks a day (the pool's quota is 60): **steady** = evenly spread "
        "around the clock, **bursty** = bursts of 4–20 (10 s apart) at random times between 07:00 and 19:00 "
        "Pacific; **100 %** = the bursty day with 60 sub-tasks (exactly the pool's quota: every request that misses "
        "a free account is quota lost). Shares count every account-day that lies wholly inside the run; a free "
        "account is *able* to take a request when it has requests left in its day and in its minute.",
        "",
    )
    section.table(
        [
            "workload (demand vs the pool's quota)",
            "routing",
            "requests",
            "quota used before reset (mean)",
            "worst account-day",
            "account-days",
            "sent to paid while a free account had day and minute quota left",
            "refused while free quota was left",
        ],
        rows,
    )
    caching = await _caching(options, section)
    section.data = data | {"caching": caching}
    return section
