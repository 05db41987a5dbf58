"""Part 1: the cost of one pure decide() call with 5, 30 and 100 candidates (µs per decision)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta

from bench.common import Options, Section, spread
from providers.catalog import load_catalog
from providers.models import ModelProfile
from providers.types import WireKind
from routing.decide import decide
from routing.preferences import Preferences
from routing.types import CandidateState, QuotaWindow, Task

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PROVIDERS = ("openai", "anthropic", "google", "zai", "moonshot", "deepseek")
KINDS: dict[str, WireKind] = {"anthropic": "anthropic", "google": "gemini"}
PREFERENCES = Preferences(
    default="zai",
    task_preferences={
        "coding": ("openai", "anthropic", "zai", "moonshot"),
        "reasoning": ("anthropic", "moonshot", "openai", "google"),
        "simple": ("google", "zai", "moonshot"),
    },
    quality_preferences={"cost_first": ("moonshot", "google", "zai", "anthropic", "openai")},
)
SIZES = (5, 30, 100)


def _models() -> list[ModelProfile]:
    catalog = load_catalog()
    today = date(2026, 11, 28)
    per_provider = [catalog.current_models(p, today) for p in PROVIDERS]
    # interleave so 5 candidates already span five vendors, like the seed's line-up
    return [m for group in itertools.zip_longest(*per_provider) for m in group if m is not None]


def candidates(n: int) -> list[CandidateState]:
    """`n` candidates: catalogue models over the six vendors; beyond the catalogue, pools of accounts.

    Every third candidate carries a quota window and every seventh is cooling down, so filters and headroom
    scoring do real work.
    """
    models = _models()
    out: list[CandidateState] = []
    for i in range(n):
        model = models[i % len(models)]
        account_no = i // len(models)
        windows = (QuotaWindow(kind="requests", period="day", limit=20, remaining=20 - i % 20),) if i % 3 == 0 else ()
        out.append(
            CandidateState(
                provider=model.provider,
                account=f"{model.provider}-{account_no + 1}",
                model=model,
                kind=KINDS.get(model.provider, "openai"),
                pool_index=account_no,
                pool_size=max(1, (n + len(models) - 1) // len(models)),
                windows=windows,
                cooldown_until=NOW + timedelta(seconds=30) if i % 7 == 6 else None,
                latency_p50_ms=400.0 + i,
            )
        )
    return out


def _per_call_us(cands: list[CandidateState], task: Task, iterations: int) -> float:
    started = time.perf_counter_ns()
    for seed in range(iterations):
        decide(task, cands, PREFERENCES, now=NOW, seed=seed)
    return (time.perf_counter_ns() - started) / iterations / 1000


def run(options: Options) -> Section:
    """Median µs per decide() call over repeated rounds, for each candidate count."""
    section = Section("decide", "1. Decision cost: `routing.decide.decide()`")
    rounds = options.pick(9, 3)
    task = Task(estimated_input_tokens=1200, task_type="coding")
    rows = []
    for n in SIZES:
        cands = candidates(n)
        iterations = max(20, options.pick(40_000, 4_000) // n)
        decide(task, cands, PREFERENCES, now=NOW)  # warm caches (catalogue, pydantic validators)
        runs = [_per_call_us(cands, task, iterations) for _ in range(rounds)]
        result = spread(runs)
        section.data[str(n)] = {"us_per_call": runs, "iterations": iterations}
        verdict = "meets" if n != 30 else ("meets" if result.median < 100 else "MISSES")
        target = "< 100 µs" if n == 30 else "—"
        rows.append([str(n), result.fmt(1), str(iterations), target, verdict if n == 30 else ""])
    section.add(
        f"One decision on a coding task, {rounds} rounds; each round times a loop of calls and divides. "
        "Candidates are catalogue models over six vendors (pools beyond that), a third with a quota window, "
        "a seventh cooling down.",
        "",
    )
    section.table(["candidates", "µs per decision, median [min–max]", "calls per round", "target", ""], rows)
    return section
