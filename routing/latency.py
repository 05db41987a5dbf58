"""Latency-aware routing (README "Latency-aware routing"), pure: predicted completion times from the measured
speed, which accounts of a pool are de-ranked (drifted far above the others, or failing), and when one is probed.

- predicted completion = TTFT (decaying estimate) + expected output tokens / output rate; its p95 uses the recent
  window's p95 TTFT. Expected output: the call's `max_output_tokens`, else what its task type produced lately.
- an account whose predicted p95 completion is `DRIFT_FACTOR` times the median of the rest of its pool, or whose
  recent samples failed `FAILING_RATIO` of the time, is de-ranked: tried after the others. It is probed (tried
  first, once) whenever `PROBE_EVERY` observations of its pool went by without one of it; a probe that answers at
  the pool's pace ends the de-rank at once (the drift is judged on the better of the predicted p95 and the
  latest sample), so it regains its traffic as soon as it recovered.
- under `quality: max_speed` an account never observed is tried first, once (its first call teaches its speed);
  an account observed only failing ranks after those with a speed, and so does one never observed whose first
  call is still running (`CandidateState.in_flight`): concurrent requests fan out over the unknown accounts
  instead of all trying the same one.
- under `quality: max_speed` an account that is slower than the pool's fastest but not slow enough to be de-ranked
  gets no traffic, so its estimate would freeze at the slow value: once `PROBE_EVERY` observations of its pool went
  by without one of it, its estimate is stale and it is probed (tried first, once) like a de-ranked account. The
  store restarts a stale estimate from the probe's sample (storage.latency), so one probe at the fast pace
  returns its traffic. The share is bounded (one request in `PROBE_EVERY + 1` per stale account) and a probe is
  only ever an account that passed every filter (budget, quota, pins): it is reserved like any attempt.
- under `quality: max_speed` a group (a provider's model) whose every healthy account the whole store's max_speed
  calls went on without for long (`SpeedEstimate.stale_in_store`, storage.latency) is tried first, once, like one
  never measured (routing.score), its fastest account the probe: a provider of one account has no pool to count
  its neglect by.
- no probe goes to an account with a call in flight: that call is measuring it already.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from providers.values import read_only_hashable
from routing.types import CandidateState, RankedCandidate, SpeedEstimate, Task

#: output tokens assumed when neither the call nor its task type's history says
FALLBACK_OUTPUT_TOKENS = 400
DRIFT_FACTOR = 3.0
FAILING_RATIO = 0.5
#: a failure ratio needs this many recent samples before it de-ranks
MIN_FAILING_SAMPLES = 4
PROBE_EVERY = 20
#: the predicted completion time at which the score's latency part is 0.5
COMPLETION_HALF_MS = 8000.0


def expected_output(task: Task) -> int:
    """How many output tokens to predict with: the call's cap, else its task type's recent average."""
    return task.max_output_tokens or task.expected_output_tokens or FALLBACK_OUTPUT_TOKENS


def _generation_ms(speed: SpeedEstimate, output_tokens: int) -> float:
    rate = speed.tokens_per_s
    return output_tokens / rate * 1000.0 if rate else 0.0


def predicted_ms(speed: SpeedEstimate | None, output_tokens: int) -> float | None:
    """TTFT + output / rate, from the decaying estimates (None: no speed measured)."""
    if speed is None or speed.ttft_ms is None:
        return None
    return speed.ttft_ms + _generation_ms(speed, output_tokens)


def predicted_p95_ms(speed: SpeedEstimate | None, output_tokens: int) -> float | None:
    """The p95 of the completion time: the recent p95 TTFT (or the estimate, if larger) + output / rate."""
    if speed is None or speed.ttft_ms is None:
        return None
    ttft = max(speed.ttft_p95_ms or 0.0, speed.ttft_ms)
    return ttft + _generation_ms(speed, output_tokens)


def current_ms(speed: SpeedEstimate | None, output_tokens: int) -> float | None:
    """The drift judge's figure: the better of the predicted p95 and the latest sample (so one slow answer shows
    at once, and one probe at the usual pace ends it)."""
    estimate = predicted_p95_ms(speed, output_tokens)
    if speed is None or estimate is None or speed.last_ttft_ms is None:
        return estimate
    rate = speed.last_tokens_per_s or speed.tokens_per_s
    latest = speed.last_ttft_ms + (output_tokens / rate * 1000.0 if rate else 0.0)
    return min(estimate, latest)


def latency_part(ms: float) -> float:
    """A predicted completion time on the score's 0..1 scale (1 = instant, 0.5 at COMPLETION_HALF_MS)."""
    return 1.0 / (1.0 + ms / COMPLETION_HALF_MS)


def unknown(c: CandidateState) -> bool:
    """Never observed: nothing to predict from."""
    return c.speed is None or c.speed.samples == 0


@read_only_hashable
class PoolFlags:
    predicted: dict[str, float | None]
    deranked: frozenset[str]
    probes: frozenset[str]


def _failing(speed: SpeedEstimate | None) -> bool:
    return speed is not None and speed.samples >= MIN_FAILING_SAMPLES and speed.failure_ratio >= FAILING_RATIO


def _stale(c: CandidateState) -> bool:
    return c.speed is not None and c.speed.samples > 0 and _probe_due(c)


def _probe_due(c: CandidateState) -> bool:
    """Its pool went on without it long enough, and no call of it is running already (concurrent requests would
    otherwise each send one probe)."""
    return c.speed is not None and c.speed.unobserved_for >= PROBE_EVERY and not c.in_flight


def pool_flags(members: Sequence[CandidateState], output_tokens: int, *, max_speed: bool = False) -> PoolFlags:
    """Each account's predicted completion, and which are de-ranked and which probed now (under `max_speed` also
    an account whose estimate went stale)."""
    predicted = {c.account: predicted_ms(c.speed, output_tokens) for c in members}
    current = {c.account: current_ms(c.speed, output_tokens) for c in members}
    deranked: set[str] = set()
    probes: set[str] = set()
    for c in members:
        mine = current[c.account]
        others = [p for account, p in current.items() if account != c.account and p is not None]
        slow = mine is not None and bool(others) and mine >= DRIFT_FACTOR * statistics.median(others)
        if slow or _failing(c.speed):
            deranked.add(c.account)
            if _probe_due(c):
                probes.add(c.account)
    if len(deranked) == len(members):  # nothing to prefer: none is de-ranked
        deranked.clear()
        probes.clear()
    if max_speed and len(members) > 1:
        probes.update(c.account for c in members if _stale(c))
    return PoolFlags(predicted, frozenset(deranked), frozenset(probes))


def speed_order(c: CandidateState, predicted: float | None) -> float:
    """max_speed's order inside a pool and between groups: unobserved first (learned once), then by prediction,
    observed-only-failing last. An unobserved one already being measured (a call of it in flight) waits with the
    failing: otherwise every concurrent request would make it its first try."""
    if unknown(c):
        return float("inf") if c.in_flight else -1.0
    return predicted if predicted is not None else float("inf")


def latency_notes(ranked: Sequence[RankedCandidate]) -> list[str]:
    """The decision's words on latency: which accounts are de-ranked, and which one this request probes."""
    notes = []
    for r in ranked:
        if r.probe and r.deranked:
            notes.append(f"probing {r.label}: de-ranked, unobserved for {PROBE_EVERY}+ calls of its pool")
        elif r.probe:
            notes.append(f"probing {r.label}: its speed estimate is stale (its pool or the store went on without it)")
        elif r.deranked:
            predicted = f" (predicted {r.predicted_ms / 1000:.1f} s)" if r.predicted_ms is not None else ""
            notes.append(f"{r.label} de-ranked: far slower than its pool, or failing{predicted}")
    return notes
