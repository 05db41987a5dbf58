"""A day with repeated sub-tasks (part `quotas`): the response cache's hit rate and dollars saved, and what the
providers' prompt caches saved, with the cache on and off.

Deterministic one-shot questions (temperature 0) drawn with repetition from a pool, the way an agent re-asks what
it asked an hour ago; and conversations on the simulated Anthropic under a long, stable system prompt (the
repository's rules), whose prefix the provider caches between turns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.fixtures import bench_app
from bench.simulate.world import DAY_LINEUP, OUTPUT_TOKENS, DayClock, new_simulator
from providers.types import Message
from routing.results import RouteError
from routing.router import RouteRequest
from server.views import cache_report

DAY = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 08:00 Pacific
RULES = "Repository rules: type everything, test behaviour not implementation, keep modules small. " * 90
TASK_TYPES = ("coding", "simple", "reasoning")


@dataclass(frozen=True)
class Ask:
    at: datetime
    text: str
    task_type: str
    conversation: str | None = None


def workload(questions: int, conversations: int, seed: int = 5) -> list[Ask]:
    """`questions` one-shot asks from a pool of half as many distinct ones (the popular ones asked more), and
    `conversations` of 6–10 turns a minute or two apart, spread over twelve hours."""
    rng = random.Random(seed)
    pool = [
        (f"Explain what helper number {i} in utils.py does, in two lines.", TASK_TYPES[i % 3])
        for i in range(questions // 2)
    ]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(pool))]
    asks = [
        Ask(DAY + timedelta(seconds=rng.uniform(0, 12 * 3600)), *rng.choices(pool, weights)[0])
        for _ in range(questions)
    ]
    for c in range(conversations):
        at = DAY + timedelta(seconds=rng.uniform(0, 11 * 3600))
        for t in range(rng.randint(6, 10)):
            asks.append(
                Ask(at, f"Conversation {c}, step {t}: what should change next in module {c}?", "reasoning", f"c{c}")
            )
            at += timedelta(seconds=rng.uniform(45, 150))
    return sorted(asks, key=lambda a: a.at)


async def run_day(asks: list[Ask], cache_on: bool) -> dict[str, Any]:
    clock = DayClock(asks[0].at)
    sim = new_simulator(clock)
    ttl = {"coding": 4 * 3600, "simple": 4 * 3600, "reasoning": 4 * 3600}
    cache: dict[str, Any] = {**ttl, "maxMb": 16} if cache_on else {}
    ours: dict[str, str] = {}
    cost = 0.0
    hits = failed = 0
    async with sim, bench_app(DAY_LINEUP.config(sim, budgetMode="quality_first", cache=cache), clock=clock) as app:
        for ask in asks:
            clock.now = ask.at
            conversation = ours.get(ask.conversation) if ask.conversation else None
            request = RouteRequest(
                messages=(Message(role="user", content=ask.text),),
                system=RULES if ask.conversation else None,
                task_type=ask.task_type,  # type: ignore[arg-type]
                conversation_id=conversation,
                temperature=0,
                max_output_tokens=OUTPUT_TOKENS,
                cache=None if cache_on else False,
            )
            try:
                result = await app.router.route(request)
            except RouteError:
                failed += 1
                continue
            if ask.conversation and result.conversation_id:
                ours[ask.conversation] = result.conversation_id
            cost += result.cost_usd
            hits += result.cache_hit
        report = await cache_report(app)
    one_shots = sum(1 for a in asks if a.conversation is None)
    return {
        "requests": len(asks),
        "one_shot": one_shots,
        "failed": failed,
        "cost_usd": cost,
        "hits": hits,
        "hit_rate": hits / one_shots if one_shots else 0.0,
        "dollars_saved": report.dollars_saved,
        "prompt_cache": report.prompt_cache.model_dump(),
    }
