"""The measured speed of an account's models (README "Latency-aware routing"), as `provider_status` and `status`
show it: what routing predicts completion times from."""

from __future__ import annotations

from pydantic import Field

from providers.types import Frozen
from storage.latency import Speeds


class SpeedView(Frozen):
    """One model of one account: time to first token (decaying estimate, p50, p95 of the recent window), output
    tokens per second, and the recent failure ratio."""

    model: str
    samples: int
    ttft_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    tokens_per_s: float | None = None
    failure_ratio: float = Field(default=0.0, ge=0, le=1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def speed_views(speeds: Speeds, provider: str, account: str) -> list[SpeedView]:
    """What the ledger measured of `account`'s models, by model."""
    return [
        SpeedView(
            model=row.model,
            samples=row.samples,
            ttft_ms=_round(row.ttft_ewma_ms),
            ttft_p50_ms=_round(row.ttft_p50_ms),
            ttft_p95_ms=_round(row.ttft_p95_ms),
            tokens_per_s=_round(row.tokens_per_s),
            failure_ratio=round(min(1.0, max(0.0, row.failure_ratio)), 3),
        )
        for (p, _, a), row in sorted(speeds.rows.items())
        if p == provider and a == account
    ]
