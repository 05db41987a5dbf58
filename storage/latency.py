"""Speed figures shared by every process (README "Latency-aware routing"): per (provider, model, account) the time
to first token and the output rate of every streamed call, as a decaying estimate (EWMA) plus a window of recent
samples for p50/p95 and the recent failure ratio; per task type the output tokens its calls produce.

Written in the end-of-request transaction (`observe_job`, run beside the settlement), read with the routing state
(`read_speeds_job`). The sequence number `seq` counts the observations of each (provider, model) pool: how many
came after an account's last one says how long it went unobserved (routing.latency probes a de-ranked or stale
account on that count). An estimate that went `STALE_AFTER` observations of its pool without one of its own is
stale: the next sample (the probe's) restarts it instead of being blended in, so a recovered account shows at
its new pace at once.

A pool of one account counts nothing that way, so the store also counts the observations of calls routed under
max_speed (the only ones that can pass a slower provider over), and each row keeps that store-wide count at its
last observation (`store_seq`; any call of it, in any mode, brings it up to date). An estimate is stale in the
store (`Speeds.stale_in_store`) once the store made `STALE_AFTER` such observations per (provider, model) it has
measured without one of it: under max_speed routing probes it (a provider that was slow once is not passed over
for ever), and its next sample restarts it as above. The scale keeps the probes' share of max_speed calls bounded:
each stale pool at most once per `STALE_AFTER` × pools of them.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from datetime import datetime

import orjson

from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job
from storage.windows import to_ms

#: weight of the newest sample in the decaying estimate: a slowdown shows within two or three requests
EWMA_ALPHA = 0.5
#: samples kept per account for the percentiles and the failure ratio
RECENT_SAMPLES = 20
#: observations of the pool without one of an account after which its estimate restarts from its next sample
#: (routing.latency.PROBE_EVERY probes it after as many)
STALE_AFTER = 20


@read_only_hashable
class SpeedRow:
    """What the store knows of one (provider, model, account)'s speed."""

    provider: str
    model: str
    account: str
    #: observations so far (successes and failures)
    samples: int
    ttft_ewma_ms: float | None
    tokens_per_s: float | None
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    #: the share of failures among the recent samples
    failure_ratio: float
    #: its pool's sequence number at its last observation
    seq: int
    #: the latest sample's TTFT and rate (a probe's verdict)
    last_ttft_ms: float | None = None
    last_tokens_per_s: float | None = None
    #: the store's count of max_speed observations at its last observation (0: not observed since the column came)
    store_seq: int = 0


@read_only_hashable
class Speeds:
    """Every account's speed row, the last sequence number of each (provider, model), the expected output
    tokens per task type, and the store's count of max_speed observations."""

    rows: dict[tuple[str, str, str], SpeedRow]
    last_seq: dict[tuple[str, str], int]
    output_tokens: dict[str, float]
    store_last: int = 0

    def stale_in_store(self, row: SpeedRow) -> bool:
        """Whether the store went on without `row` for `STALE_AFTER` max_speed observations per pool it has
        measured."""
        return row.samples > 0 and self.store_last - row.store_seq >= stale_in_store_after(len(self.last_seq))


def stale_in_store_after(pools: int) -> int:
    """Store-wide max_speed observations without one of an estimate after which it is stale, for `pools` measured
    pools."""
    return STALE_AFTER * max(1, pools)


def _ewma(old: float | None, sample: float | None) -> float | None:
    if sample is None:
        return old
    return sample if old is None else old + EWMA_ALPHA * (sample - old)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The `pct` percentile (nearest rank) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


Window = list[list[float | int | None]]


def _load_window(text: str) -> tuple[Window, bool]:
    """A stored window, and whether orjson read it (it then holds no NaN or infinity: orjson refuses those, and
    the standard library, which wrote them once, reads them back as before)."""
    try:
        window: Window = orjson.loads(text)
    except orjson.JSONDecodeError:
        window = json.loads(text)
        return window, False
    return window, True


def _dump_window(window: Window, finite: bool) -> str:
    """`window` as JSON for `json.loads`: orjson when every value is finite (it would write a NaN as null), else the
    standard library, as before."""
    return orjson.dumps(window).decode() if finite else json.dumps(window)


def _finite(*values: float | None) -> bool:
    return all(value is None or math.isfinite(value) for value in values)


def observe_job(
    provider: str,
    model: str,
    account: str,
    *,
    ok: bool,
    ttft_ms: float | None,
    tokens_per_s: float | None,
    task_type: str | None,
    output_tokens: int,
    now: datetime,
    max_speed: bool = False,
) -> Job[None]:
    """Add one observation (a served call with its TTFT and rate, or a failure) to the figures; `max_speed`: the
    call was routed by speed, so it counts in the store's count of max_speed observations."""

    def job(conn: Connection) -> None:
        # the pool's rows in one statement: this account's figures, and the pool's next sequence number
        rows = conn.execute(
            "SELECT account, samples, ttft_ewma_ms, tps_ewma, recent, seq, store_seq FROM latency_stats "
            "WHERE provider = ? AND model = ?",
            (provider, model),
        ).fetchall()
        store_last, pools = conn.execute(_STORE_SEQUENCE).fetchone()
        seq = max((int(r[5]) for r in rows), default=0) + 1
        row = next((tuple(r[1:]) for r in rows if r[0] == account), None)
        samples, ttft, tps, recent, mine, mine_in_store = (0, None, None, "[]", 0, 0) if row is None else row
        window, finite = _load_window(recent)
        window.append([ttft_ms, tokens_per_s, 1 if ok else 0])
        stale = seq - 1 - mine >= STALE_AFTER or int(store_last) - mine_in_store >= stale_in_store_after(int(pools))
        if ok and stale:  # a stale estimate restarts from this (the probe's) sample
            ttft = None if ttft_ms is not None else ttft
            tps = None if tokens_per_s is not None else tps
        conn.execute(
            """INSERT INTO latency_stats (provider, model, account, samples, ttft_ewma_ms, tps_ewma, recent, seq,
                                          updated_at, store_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (provider, model, account) DO UPDATE SET samples = excluded.samples,
                ttft_ewma_ms = excluded.ttft_ewma_ms, tps_ewma = excluded.tps_ewma, recent = excluded.recent,
                seq = excluded.seq, updated_at = excluded.updated_at, store_seq = excluded.store_seq""",
            (provider, model, account, samples + 1, _ewma(ttft, ttft_ms), _ewma(tps, tokens_per_s),
             _dump_window(window[-RECENT_SAMPLES:], finite and _finite(ttft_ms, tokens_per_s)), seq, to_ms(now),
             int(store_last) + (1 if max_speed else 0)),
        )  # fmt: skip
        if ok and task_type is not None and output_tokens > 0:
            conn.execute(
                """INSERT INTO output_stats (task_type, samples, tokens_ewma) VALUES (?, 1, ?)
                ON CONFLICT (task_type) DO UPDATE SET samples = output_stats.samples + 1,
                    tokens_ewma = output_stats.tokens_ewma + 0.2 * (excluded.tokens_ewma - output_stats.tokens_ewma)""",
                (task_type, float(output_tokens)),
            )

    return job


#: the store's count of max_speed observations, and how many (provider, model) pools the store has measured
_STORE_SEQUENCE = (
    "SELECT (SELECT COALESCE(MAX(store_seq), 0) FROM latency_stats), "
    "(SELECT COUNT(*) FROM (SELECT DISTINCT provider, model FROM latency_stats) AS pools)"
)

_Values = tuple[str, str, str, int, float | None, float | None, str, int, int]
#: rows already derived, by their stored values (a row changes with every observation of it, so an unchanged row
#: is not parsed again on the next read); cleared when full
_DERIVED: dict[_Values, SpeedRow] = {}
_DERIVED_MAX = 4096


def _row(values: _Values) -> SpeedRow:
    row = _DERIVED.get(values)
    if row is None:
        if len(_DERIVED) >= _DERIVED_MAX:
            _DERIVED.clear()
        row = _DERIVED[values] = _derive(values)
    return row


def _derive(values: _Values) -> SpeedRow:
    provider, model, account, samples, ttft, tps, recent, seq, store_seq = values
    window, _ = _load_window(recent)
    ttfts = [float(s[0]) for s in window if s[0] is not None]
    failures = sum(1 for s in window if not s[2])
    last = next((s for s in reversed(window) if s[0] is not None), None)
    return SpeedRow(
        provider, model, account, samples, ttft, tps, percentile(ttfts, 50), percentile(ttfts, 95),
        failures / len(window) if window else 0.0, seq,
        float(last[0]) if last and last[0] is not None else None,
        float(last[1]) if last and last[1] is not None else None, store_seq,
    )  # fmt: skip


def read_speeds_job() -> Job[Speeds]:
    """Every speed row and the expected output per task type (run it in a read transaction)."""

    def job(conn: Connection) -> Speeds:
        rows = {}
        for values in conn.execute(
            "SELECT provider, model, account, samples, ttft_ewma_ms, tps_ewma, recent, seq, store_seq "
            "FROM latency_stats"
        ):
            row = _row(values)
            rows[row.provider, row.model, row.account] = row
        last: dict[tuple[str, str], int] = {}
        store_last = 0
        for row in rows.values():
            last[row.provider, row.model] = max(last.get((row.provider, row.model), 0), row.seq)
            store_last = max(store_last, row.store_seq)
        outputs = {str(t): float(n) for t, n in conn.execute("SELECT task_type, tokens_ewma FROM output_stats")}
        return Speeds(rows, last, outputs, store_last)

    return job


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None
