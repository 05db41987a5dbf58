"""Latencies as the reports read them: the exact values while the raw rows are read, a log-scale histogram once
they are rolled up (storage/rollups.py), so a year of days costs a few hundred buckets per group, not its rows.

A value v (ms, ≥ 0) falls in bucket b = floor(log(v + 1) / log(GROWTH)); a bucket reads back as the middle of its
range, so a percentile computed from buckets is within GROWTH's half-width (0.5%) of (v + 1) of the exact one.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import field

from providers.values import read_only_hashable

#: each bucket is 1% wider than the one below it
GROWTH = 1.01
_LOG_GROWTH = math.log(GROWTH)


def bucket_of(value: float) -> int:
    """The histogram bucket of a latency of `value` ms (negatives count as 0)."""
    return math.floor(math.log(max(value, 0.0) + 1.0) / _LOG_GROWTH)


def bucket_value(bucket: int) -> float:
    """What bucket `bucket` reads back as: the middle of its range, in ms."""
    return (GROWTH**bucket + GROWTH ** (bucket + 1)) / 2 - 1.0


def nearest_rank(count: int, p: float) -> int:
    """The 1-based rank of the p-th percentile among `count` sorted values (nearest-rank)."""
    return max(1, math.ceil(p / 100 * count))


@read_only_hashable
class Latencies:
    """Latencies of a group of attempts: exact `values` (from raw rows) or `buckets` (from roll-ups), not both."""

    values: tuple[float, ...] = ()
    buckets: Mapping[int, int] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return not self.buckets

    @property
    def count(self) -> int:
        return len(self.values) + sum(self.buckets.values())

    def histogram(self) -> Counter[int]:
        """The buckets, the exact values counted into theirs."""
        counted: Counter[int] = Counter(self.buckets)
        counted.update(bucket_of(value) for value in self.values)
        return counted

    def to_json(self) -> str:
        """The histogram as stored in a roll-up row: {"bucket": count}."""
        return json.dumps({str(b): n for b, n in sorted(self.histogram().items())}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Latencies:
        return cls(buckets={int(b): int(n) for b, n in json.loads(text).items()})


def merged(parts: Iterable[Latencies]) -> Latencies:
    """One group's latencies from its parts: exact while every part is, a histogram as soon as one is not."""
    parts = list(parts)
    if all(part.exact for part in parts):
        return Latencies(values=tuple(v for part in parts for v in part.values))
    total: Counter[int] = Counter()
    for part in parts:
        total.update(part.histogram())
    return Latencies(buckets=dict(total))


def percentile_of(latencies: Latencies, p: float) -> float | None:
    """The nearest-rank p-th percentile: exact from exact values, the bucket's middle from a histogram."""
    if latencies.exact:
        if not latencies.values:
            return None
        ordered = sorted(latencies.values)
        return ordered[nearest_rank(len(ordered), p) - 1]
    rank = nearest_rank(latencies.count, p)
    seen = 0
    for bucket in sorted(latencies.buckets):
        seen += latencies.buckets[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return None
