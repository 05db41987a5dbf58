"""The smooth part of the ranking: each part a number in 0..1 where higher is better, weighted by mode.

SCORING.md (beside this file) is the documentation; in short:

- quality     the model's quality for the task type (0-100, the catalogue's or the config's `quality`) mapped
              (q - 40) / 60 onto 0..1: useful models sit between 60 and 95, and /100 would squeeze that range
              into a third of the scale, letting a cent of cost outweigh ten quality points
- cost        1 - ln(1 + c/$0.0001) / ln(1 + $1/$0.0001), clamped: $0 -> 1.0, $0.001 -> 0.74, $0.01 -> 0.50,
              $0.10 -> 0.25, >= $1 -> 0. A log scale, so free models need no division by a zero price.
- headroom    the pool's mean of each account's tightest quota window (remaining / limit); an exhausted account
              counts 0, an account with no known limit 1. A fuller pool wins, so pools drain evenly.
- latency     1 / (1 + p50 / 2 s) from observed latency; 0.5 when nothing is observed yet
- speed       the model's catalogue speed, /100
- preference  the model's `preferenceScore`, /100 (0.5 when unset)

Weights depend on the quality mode, then the budget mode multiplies one part and all are renormalised to sum 1.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache

from routing.preferences import BudgetMode, QualityMode
from routing.types import CandidateState

PARTS: tuple[str, ...] = ("quality", "cost", "headroom", "latency", "speed", "preference")

_BALANCED = {"quality": 0.35, "cost": 0.20, "headroom": 0.15, "latency": 0.10, "speed": 0.05, "preference": 0.15}
_BASE_WEIGHTS: dict[str | None, dict[str, float]] = {
    None: _BALANCED,
    "balanced": _BALANCED,
    "max_quality": {
        "quality": 0.55,
        "cost": 0.05,
        "headroom": 0.10,
        "latency": 0.05,
        "speed": 0.05,
        "preference": 0.20,
    },
    "max_speed": {"quality": 0.10, "cost": 0.10, "headroom": 0.10, "latency": 0.30, "speed": 0.30, "preference": 0.10},
    # the window itself is a tier in max_context; among equal windows, balance as usual
    "max_context": _BALANCED,
}
#: cost_first makes cost dominant; quality_first makes quality dominant and cost minor; free_only (every survivor
#: is free) leans on the quota left, so free pools drain evenly.
_BUDGET_MULTIPLIERS: dict[BudgetMode, dict[str, float]] = {
    "cost_first": {"cost": 4.0, "quality": 0.5},
    "quality_first": {"quality": 2.0, "cost": 0.25},
    "free_only": {"headroom": 2.0},
}

COST_UNIT_USD = 0.0001
COST_CEILING_USD = 1.0
_COST_SCALE = math.log1p(COST_CEILING_USD / COST_UNIT_USD)
LATENCY_HALF_MS = 2000.0
UNKNOWN_LATENCY = 0.5
UNKNOWN_PREFERENCE = 0.5


@cache
def weights_for(quality: QualityMode | None, budget_mode: BudgetMode) -> dict[str, float]:
    """The weight of each part for a quality mode and budget mode (they sum to 1). Do not mutate the result."""
    weights = dict(_BASE_WEIGHTS[quality])
    for part, factor in _BUDGET_MULTIPLIERS[budget_mode].items():
        weights[part] *= factor
    total = sum(weights.values())
    return {name: round(value / total, 4) for name, value in weights.items()}


QUALITY_FLOOR = 40


def quality_part(quality: int) -> float:
    """A 0-100 quality score on the 0..1 scale: (q - 40) / 60, clamped."""
    return min(1.0, max(0.0, (quality - QUALITY_FLOOR) / (100 - QUALITY_FLOOR)))


def cost_part(cost_usd: float) -> float:
    """1.0 for free, falling on a log scale to 0.0 at COST_CEILING_USD and above."""
    if cost_usd <= 0:
        return 1.0
    return max(0.0, 1.0 - math.log1p(cost_usd / COST_UNIT_USD) / _COST_SCALE)


def latency_part(p50_ms: float | None) -> float:
    """1 / (1 + p50 / 2 s); UNKNOWN_LATENCY when nothing has been observed."""
    if p50_ms is None:
        return UNKNOWN_LATENCY
    return 1.0 / (1.0 + p50_ms / LATENCY_HALF_MS)


def account_headroom(candidate: CandidateState, now: datetime) -> float:
    """The tightest known quota window's remaining fraction; 0 when exhausted, 1 with no known limit."""
    if candidate.exhausted_until is not None and candidate.exhausted_until > now:
        return 0.0
    headroom = 1.0
    for window in candidate.windows:
        if window.limit > 0:
            fraction = window.remaining / window.limit
            if fraction < headroom:
                headroom = fraction
    return max(0.0, headroom)


def work_cost_usd(input_tokens: int, output_tokens: int, input_per_1m: float, output_per_1m: float) -> float:
    """The price of a call of this size."""
    return (input_tokens * input_per_1m + output_tokens * output_per_1m) / 1_000_000
