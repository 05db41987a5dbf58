"""Metrics from attempts over a window: counts, tokens, cost, latency percentiles, errors by class."""

from __future__ import annotations

from datetime import timedelta

import pytest

from providers.attempts import AttemptRecord
from providers.types import Usage
from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord
from storage.metrics import Metrics, percentile
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio


def attempt(provider: str, account: str, model: str, latency: float, error: str | None = None) -> AttemptRecord:
    return AttemptRecord(
        provider=provider,
        model=model,
        account=account,
        outcome="error" if error else "success",
        latency_ms=latency,
        started_at=NOW,
        error_class=error,  # type: ignore[arg-type]
        usage=Usage() if error else Usage(input_tokens=100, output_tokens=10),
        cost_usd=0.0 if error else 0.001,
    )


async def record(store: Store) -> None:
    attempts = [attempt("openai", "o1", "gpt-4.1", float(ms)) for ms in range(10, 101, 10)]  # 10..100 ms
    attempts += [
        attempt("openai", "o2", "gpt-4.1-mini", 500.0, "rate_limited"),
        attempt("google", "g1", "gemini-2.5-flash", 300.0, "quota_exhausted"),
        attempt("google", "g1", "gemini-2.5-flash", 200.0, "quota_exhausted"),
        attempt("google", "g2", "gemini-2.5-flash", 250.0),
    ]
    await store.write(DecisionLog(store).record_job(DecisionRecord(task_summary="t"), NOW, attempts=attempts))


async def test_metrics_per_provider_count_tokens_cost_latency_and_errors(store: Store) -> None:
    await record(store)
    rows = {row.group: row for row in await Metrics(store).compute(NOW, NOW + timedelta(hours=1))}
    openai, google = rows["openai"], rows["google"]
    assert (openai.requests, openai.success, openai.failed) == (11, 10, 1)
    assert (openai.input_tokens, openai.output_tokens) == (1000, 100)
    assert openai.cost_usd == pytest.approx(0.01)
    assert openai.latency_avg_ms == pytest.approx((550 + 500) / 11)
    assert (openai.latency_p50_ms, openai.latency_p95_ms, openai.latency_p99_ms) == (60.0, 500.0, 500.0)
    assert openai.errors_by_class == {"rate_limited": 1}
    assert (google.requests, google.success, google.failed) == (3, 1, 2)
    assert google.errors_by_class == {"quota_exhausted": 2}
    assert google.latency_p50_ms == 250.0


async def test_metrics_group_per_account_and_per_model(store: Store) -> None:
    await record(store)
    by_account = {
        row.group: row.requests for row in await Metrics(store).compute(NOW, NOW + timedelta(hours=1), "account")
    }
    assert by_account == {"o1": 10, "o2": 1, "g1": 2, "g2": 1}
    by_model = [row.group for row in await Metrics(store).compute(NOW, NOW + timedelta(hours=1), "model")]
    assert by_model == ["google/gemini-2.5-flash", "openai/gpt-4.1", "openai/gpt-4.1-mini"]


async def test_attempts_outside_the_window_are_not_counted(store: Store) -> None:
    await record(store)
    assert await Metrics(store).compute(NOW + timedelta(seconds=1), NOW + timedelta(hours=1)) == []
    assert await Metrics(store).compute(NOW - timedelta(hours=1), NOW) == []


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
