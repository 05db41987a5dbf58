"""Metrics computed from the attempts of a time window, grouped per provider, account or model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import field
from datetime import datetime
from typing import Literal

from providers.values import read_only_hashable
from storage.db import Store
from storage.windows import to_ms

GroupBy = Literal["provider", "account", "model"]
NANO = 1_000_000_000

# The group key is a column (or two joined by '/'), never caller text: no SQL is built from input.
_GROUP_SQL: dict[GroupBy, str] = {
    "provider": "provider",
    "account": "account",
    "model": "provider || '/' || model",
}


@read_only_hashable
class MetricsRow:
    """One group's numbers; latencies in ms over all of its attempts (None when there were none)."""

    group: str
    requests: int
    success: int
    failed: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_avg_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    errors_by_class: dict[str, int] = field(default_factory=dict)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least p% of the values at or below it)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@read_only_hashable
class PromptCacheRow:
    """One provider/model's successful calls, how many read the provider's prompt cache, and the cached tokens."""

    provider: str
    model: str
    calls: int
    hits: int
    read_tokens: int
    write_tokens: int


class Metrics:
    """Reads of the attempts table as requests, tokens, cost, latency percentiles and errors by class."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def prompt_cache(self, since: datetime, until: datetime) -> list[PromptCacheRow]:
        """Prompt-cache use of the successful attempts started in [since, until), per provider and model that ever
        read or wrote the cache in that time."""
        rows = await self._store.fetchall(
            "SELECT provider, model, COUNT(*), SUM(CASE WHEN cache_read_tokens > 0 THEN 1 ELSE 0 END), "
            "SUM(cache_read_tokens), "
            "SUM(cache_write_tokens) FROM attempts WHERE outcome = 'success' AND created_at >= ? AND created_at < ? "
            "GROUP BY provider, model HAVING SUM(cache_read_tokens) + SUM(cache_write_tokens) > 0 "
            "ORDER BY provider, model",
            (to_ms(since), to_ms(until)),
        )
        return [PromptCacheRow(p, m, int(c), int(h), int(r), int(w)) for p, m, c, h, r, w in rows]

    async def compute(
        self, since: datetime, until: datetime, group_by: GroupBy = "provider", *, member: str | None = None
    ) -> list[MetricsRow]:
        """Metrics of the attempts started in [since, until), one row per group, sorted by group (only those of
        `member`'s decisions when given)."""
        sql = (
            f"SELECT {_GROUP_SQL[group_by]}, outcome, error_class, latency_ms, input_tokens, output_tokens, cost_nusd "
            "FROM attempts WHERE created_at >= ? AND created_at < ?"
        )
        params: tuple[object, ...] = (to_ms(since), to_ms(until))
        if member is not None:
            sql += " AND decision_id IN (SELECT id FROM decisions WHERE member = ?)"
            params = (*params, member)
        rows = await self._store.fetchall(sql, params)
        groups: dict[str, _Group] = {}
        for group, outcome, error_class, latency, input_tokens, output_tokens, cost in rows:
            groups.setdefault(group, _Group()).add(outcome, error_class, latency, input_tokens, output_tokens, cost)
        return [groups[name].row(name) for name in sorted(groups)]


class _Group:
    __slots__ = ("cost", "errors", "input_tokens", "latencies", "output_tokens", "success")

    def __init__(self) -> None:
        self.success = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()

    def add(
        self, outcome: str, error_class: str | None, latency: float, input_tokens: int, output_tokens: int, cost: int
    ) -> None:
        self.success += outcome == "success"
        if error_class is not None:
            self.errors[error_class] += 1
        self.latencies.append(latency)
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost += cost

    def row(self, name: str) -> MetricsRow:
        latencies = sorted(self.latencies)
        return MetricsRow(
            group=name,
            requests=len(latencies),
            success=self.success,
            failed=len(latencies) - self.success,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost / NANO,
            latency_avg_ms=sum(latencies) / len(latencies) if latencies else None,
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            latency_p99_ms=percentile(latencies, 99),
            errors_by_class=dict(sorted(self.errors.items())),
        )
