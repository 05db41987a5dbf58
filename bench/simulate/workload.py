"""A day of a coding agent's sub-tasks and the day's trouble (outages, 429 bursts), generated from a seed.

The day starts at midnight Pacific (when Google's free daily quotas reset) and the agent works from 08:00 to 20:00
local time. A sub-task is a single request or a turn of a conversation; a fifth of the requests belong to long
conversations (8-24 turns) whose turns mostly keep one task type.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from providers.models import TaskType
from providers.simulator import Fault

PACIFIC = ZoneInfo("America/Los_Angeles")
DAY_START = datetime(2026, 11, 28, 0, 0, tzinfo=PACIFIC)
WORK_START_H, WORK_END_H = 8, 20
#: sub-task mix of a coding agent (share of single requests; conversations pick their type the same way)
TASK_MIX: dict[TaskType, float] = {"coding": 0.5, "reasoning": 0.2, "simple": 0.2, "creative": 0.1}
#: prompt size classes: (share, low tokens, high tokens)
SIZES = ((0.55, 80, 600), (0.30, 600, 4_000), (0.12, 4_000, 30_000), (0.03, 130_000, 220_000))
CONVERSATION_SHARE = 0.2
#: the lowest catalogue quality score that counts as capable for a task type (stated in the report)
QUALITY_BAR: dict[TaskType, int] = {"coding": 85, "reasoning": 80, "creative": 78, "simple": 75}


@dataclass(frozen=True)
class SubTask:
    at: datetime
    task_type: TaskType
    tokens: int
    conversation: str | None = None
    turn: int = 0

    def prompt(self, index: int) -> str:
        """A prompt of about `tokens` tokens (one o200k token per filler word)."""
        head = f"Sub-task {index} ({self.task_type}): "
        return head + " ".join(["lorem"] * max(1, self.tokens - 8))


@dataclass(frozen=True)
class Event:
    """At `at`, `account` goes down with `fault` (None: comes back) or gets a burst of `count` scripted faults."""

    at: datetime
    account: str
    fault: Fault | None
    burst: int = 0


def _pick_type(rng: random.Random) -> TaskType:
    return rng.choices(list(TASK_MIX), weights=list(TASK_MIX.values()))[0]


def _pick_size(rng: random.Random, largest: int = len(SIZES)) -> int:
    classes = SIZES[:largest]
    _, low, high = rng.choices(classes, weights=[c[0] for c in classes])[0]
    return int(rng.uniform(low, high))


def _work_time(rng: random.Random) -> datetime:
    seconds = rng.uniform(WORK_START_H * 3600, WORK_END_H * 3600)
    return DAY_START + timedelta(seconds=seconds)


def day(total: int, seed: int = 7) -> list[SubTask]:
    """About `total` sub-tasks in time order; conversation turns are a few minutes apart."""
    rng = random.Random(seed)
    tasks: list[SubTask] = []
    conversation_requests = int(total * CONVERSATION_SHARE)
    n = 0
    while sum(1 for t in tasks if t.conversation) < conversation_requests:
        n += 1
        kind = _pick_type(rng)
        at = _work_time(rng)
        for turn in range(rng.randint(8, 24)):
            # one turn in six drifts to another type (a coding conversation asks for a summary, say)
            turn_type = kind if rng.random() > 1 / 6 else _pick_type(rng)
            tasks.append(SubTask(at, turn_type, _pick_size(rng, largest=2), f"conv-{n}", turn))
            at += timedelta(seconds=rng.uniform(60, 400))
    while len(tasks) < total:
        tasks.append(SubTask(_work_time(rng), _pick_type(rng), _pick_size(rng)))
    return sorted(tasks, key=lambda t: (t.at, t.turn))


def trouble() -> list[Event]:
    """The day's injected trouble: two outages and three 429 bursts (plus Google's real limits, which bite alone)."""
    at = DAY_START.replace
    return [
        Event(at(hour=10, minute=0), "openai", "overloaded"),
        Event(at(hour=10, minute=40), "openai", None),
        Event(at(hour=11, minute=15), "zai", "rate_limited", burst=6),
        Event(at(hour=14, minute=0), "anthropic", "server_error"),
        Event(at(hour=14, minute=25), "anthropic", None),
        Event(at(hour=15, minute=30), "kimi", "rate_limited", burst=6),
        Event(at(hour=17, minute=0), "openai", "rate_limited", burst=4),
    ]
