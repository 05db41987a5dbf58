"""Daily roll-ups of the decision log (README "Retention and roll-ups"): the reports' sums kept per local day, so
`costs`, `performance` and `log --flow` stay fast after a year of traffic and still show days whose raw rows
retention has pruned.

A rolled-up cell is one local day (the ledger's zone) × provider × model × task type × outcome × error class ×
member × the decision's shape (more than one attempt, served): requests, tokens, cost, the latency sum and
histograms (storage/histogram.py). Decision cells count decisions per day × task type × routed provider ×
outcome × member. Dry runs are left out, as the reports leave them out. Raw rows are read into the same cells,
one per hour (`daily=False`), so a report's hourly and 6-hour buckets stay exact where the raw rows are read.

A day is rolled up once it is complete (ROLLUP_GRACE after its local midnight), in its own short transaction that
first checks the day is not rolled yet: idempotent, and two processes rolling at once roll each day once.
Reading (`Rollups.cells`) takes rolled days from the roll-up tables and every other instant from the raw rows,
aggregated into the same cells, so a report is computed one way from either source.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from providers.calendar import local_date, local_midnight
from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job, Store
from storage.histogram import Latencies, merged
from storage.windows import from_ms, to_ms

#: a day is rolled up this long after it ends (an attempt's decision is recorded after the attempt started)
ROLLUP_GRACE = timedelta(hours=1)
HOUR_MS = 3_600_000


@read_only_hashable
class AttemptCell:
    """The attempts of one hour with the same dimensions, summed; `multi`: their decisions made more than one
    attempt, `served`: their decisions were served."""

    day: str
    #: the start of the span the cell covers: its local day (`daily`), else its hour
    start: datetime
    provider: str
    model: str
    task_type: str | None
    outcome: str
    error_class: str | None
    member: str | None
    multi: bool
    served: bool
    attempts: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_nusd: int
    latency_ms_sum: float
    latencies: Latencies
    ttfts: Latencies
    daily: bool = False


@read_only_hashable
class DecisionCell:
    """The decisions of one hour with the same task type, routed provider, outcome (served, failover, failed,
    refused), shape and member, counted."""

    day: str
    start: datetime
    task_type: str | None
    provider: str | None
    outcome: str
    multi: bool
    member: str | None
    decisions: int
    daily: bool = False


@read_only_hashable
class Cells:
    """A period's cells; `rolled_days`: the days read from roll-ups (their percentiles are approximations)."""

    attempts: tuple[AttemptCell, ...]
    decisions: tuple[DecisionCell, ...]
    rolled_days: tuple[str, ...] = ()


def decision_outcome(attempts: int, served: bool) -> str:
    """served, failover (served after a failed attempt), failed (every attempt failed) or refused (none made)."""
    if attempts == 0:
        return "refused"
    if not served:
        return "failed"
    return "failover" if attempts > 1 else "served"


class _Days:
    """The local days of an interval: which day, and which hour of it (or the day's start: `daily`), an instant
    (ms) falls in."""

    def __init__(self, start_ms: int, end_ms: int, tz: str, daily: bool) -> None:
        self.daily = daily
        first = local_date(from_ms(start_ms), tz)
        last = local_date(from_ms(max(start_ms, end_ms - 1)), tz)
        self.names: list[str] = []
        self.starts: list[int] = []
        day = first
        while day <= last:
            self.names.append(day.isoformat())
            self.starts.append(to_ms(local_midnight(day, tz)))
            day += timedelta(days=1)

    def place(self, instant_ms: int) -> tuple[str, int]:
        index = max(0, bisect.bisect_right(self.starts, instant_ms) - 1)
        start = self.starts[index]
        return self.names[index], start if self.daily else start + (instant_ms - start) // HOUR_MS * HOUR_MS


_SQL_RAW_ATTEMPTS = (
    "SELECT a.created_at, a.provider, a.model, d.task_type, a.outcome, a.error_class, d.member, "
    "(SELECT COUNT(*) FROM attempts x WHERE x.decision_id = a.decision_id) > 1, "
    "EXISTS (SELECT 1 FROM attempts x WHERE x.decision_id = a.decision_id AND x.outcome = 'success'), "
    "a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cost_nusd, a.latency_ms, a.ttft_ms "
    "FROM attempts a JOIN decisions d ON d.id = a.decision_id "
    "WHERE a.created_at >= ? AND a.created_at < ? AND d.dry_run = 0"
)
_SQL_RAW_DECISIONS = (
    "SELECT d.created_at, d.task_type, d.provider, d.member, COUNT(a.id), "
    "COALESCE(MAX(CASE WHEN a.outcome = 'success' THEN 1 ELSE 0 END), 0) "
    "FROM decisions d LEFT JOIN attempts a ON a.decision_id = d.id "
    "WHERE d.created_at >= ? AND d.created_at < ? AND d.dry_run = 0"
)


def _only(
    sql: str, column: str, params: tuple[object, ...], member: str | None, tail: str = ""
) -> tuple[str, tuple[object, ...]]:
    """`sql` narrowed to `member`'s rows when given (`column` is fixed text, never caller input)."""
    if member is None:
        return sql + tail, params
    return f"{sql} AND {column} = ?{tail}", (*params, member)


class _Sum:
    __slots__ = ("attempts", "cache_read", "cost", "input", "latencies", "latency", "output", "ttfts")

    def __init__(self) -> None:
        self.attempts = self.input = self.output = self.cache_read = self.cost = 0
        self.latency = 0.0
        self.latencies: list[float] = []
        self.ttfts: list[float] = []

    def add(self, i_tok: int, o_tok: int, cr_tok: int, cost: int, latency: float, ttft: float | None) -> None:
        self.attempts += 1
        self.input += i_tok
        self.output += o_tok
        self.cache_read += cr_tok
        self.cost += cost
        self.latency += latency
        self.latencies.append(float(latency))
        if ttft is not None:
            self.ttfts.append(float(ttft))


_Key = tuple[str, int, str, str, str | None, str, str | None, str | None, bool, bool]


def _raw_attempts(conn: Connection, start: int, end: int, days: _Days, member: str | None) -> list[AttemptCell]:
    sums: dict[_Key, _Sum] = {}
    sql, params = _only(_SQL_RAW_ATTEMPTS, "d.member", (start, end), member)
    for row in conn.execute(sql, params):
        (at, provider, model, task_type, outcome, error_class, who, multi, served, i_tok, o_tok, cr_tok, cost,
         latency, ttft) = row  # fmt: skip
        day, hour = days.place(at)
        key: _Key = (day, hour, provider, model, task_type, outcome, error_class, who, bool(multi), bool(served))
        found = sums.get(key)
        if found is None:
            found = sums[key] = _Sum()
        found.add(i_tok, o_tok, cr_tok, cost, latency, ttft)
    return [
        AttemptCell(k[0], from_ms(k[1]), k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], s.attempts, s.input,
                    s.output, s.cache_read, s.cost, s.latency, Latencies(values=tuple(s.latencies)),
                    Latencies(values=tuple(s.ttfts)), days.daily)
        for k, s in sums.items()
    ]  # fmt: skip


def _raw_decisions(conn: Connection, start: int, end: int, days: _Days, member: str | None) -> list[DecisionCell]:
    counts: dict[tuple[str, int, str | None, str | None, str, bool, str | None], int] = {}
    for at, task_type, provider, who, attempts, served in conn.execute(
        *_only(_SQL_RAW_DECISIONS, "d.member", (start, end), member, " GROUP BY d.id")
    ):
        day, hour = days.place(at)
        key = (day, hour, task_type, provider, decision_outcome(attempts, bool(served)), attempts > 1, who)
        counts[key] = counts.get(key, 0) + 1
    return [DecisionCell(k[0], from_ms(k[1]), *k[2:], n, days.daily) for k, n in counts.items()]


def raw_cells_job(
    start: datetime, end: datetime, tz: str, member: str | None = None, *, daily: bool = False
) -> Job[Cells]:
    """The raw rows of [start, end) aggregated into cells of an hour (of a local day: `daily`) with exact latencies,
    only `member`'s when given."""
    start_ms, end_ms = to_ms(start), to_ms(end)
    days = _Days(start_ms, end_ms, tz, daily)

    def job(conn: Connection) -> Cells:
        return Cells(
            tuple(_raw_attempts(conn, start_ms, end_ms, days, member)),
            tuple(_raw_decisions(conn, start_ms, end_ms, days, member)),
        )

    return job


def _none(value: str | None) -> str:
    return "" if value is None else value


def _some(value: str) -> str | None:
    return None if value == "" else value


def _store_day_job(
    day: date, start_ms: int, end_ms: int, cells: Cells, now: datetime, *, redo: bool = False
) -> Job[bool]:
    attempt_rows = [
        (c.day, to_ms(c.start), c.provider, c.model, _none(c.task_type), c.outcome, _none(c.error_class),
         _none(c.member), int(c.multi), int(c.served), c.attempts, c.input_tokens, c.output_tokens,
         c.cache_read_tokens, c.cost_nusd, c.latency_ms_sum, c.latencies.to_json(), c.ttfts.to_json())
        for c in cells.attempts
    ]  # fmt: skip
    decision_rows = [
        (c.day, to_ms(c.start), _none(c.task_type), _none(c.provider), c.outcome, int(c.multi), _none(c.member),
         c.decisions)
        for c in cells.decisions
    ]  # fmt: skip

    def job(conn: Connection) -> bool:
        if redo:  # the rows that arrived late are in `cells`: the day's roll-up is replaced whole
            conn.execute("DELETE FROM rollup_attempts WHERE day_start = ?", (start_ms,))
            conn.execute("DELETE FROM rollup_decisions WHERE day_start = ?", (start_ms,))
            conn.execute("DELETE FROM rollup_days WHERE day = ?", (day.isoformat(),))
        elif conn.execute("SELECT 1 FROM rollup_days WHERE day = ?", (day.isoformat(),)).fetchone():
            return False  # another process rolled it first
        conn.executemany(
            "INSERT INTO rollup_attempts (day, day_start, provider, model, task_type, outcome, error_class, member, "
            "multi, served, attempts, input_tokens, output_tokens, cache_read_tokens, cost_nusd, latency_ms_sum, "
            f"latency_hist, ttft_hist) VALUES ({', '.join('?' * 18)})",
            attempt_rows,
        )
        conn.executemany(
            "INSERT INTO rollup_decisions (day, day_start, task_type, provider, outcome, multi, member, decisions) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            decision_rows,
        )
        conn.execute(
            "INSERT INTO rollup_days (day, start_ms, end_ms, rolled_at) VALUES (?, ?, ?, ?)",
            (day.isoformat(), start_ms, end_ms, to_ms(now)),
        )
        return True

    return job


def _next_day_job(tz: str) -> Job[date | None]:
    """The oldest local day with raw rows after the last rolled day (None: no such rows)."""

    def job(conn: Connection) -> date | None:
        after = conn.execute("SELECT COALESCE(MAX(end_ms), 0) FROM rollup_days").fetchone()[0]
        oldest = conn.execute(
            "SELECT MIN(t) FROM (SELECT MIN(created_at) AS t FROM decisions WHERE created_at >= ? "
            "UNION ALL SELECT MIN(created_at) AS t FROM attempts WHERE created_at >= ?) AS oldest",
            (after, after),
        ).fetchone()[0]
        return None if oldest is None else local_date(from_ms(oldest), tz)

    return job


#: rolled days whose raw rows (not pruned yet) no longer add up to their roll-up
_SQL_LATE_DAYS = (
    "SELECT r.day, r.start_ms, r.end_ms FROM rollup_days r WHERE r.raw_pruned = 0 AND ("
    "(SELECT COUNT(*) FROM decisions d WHERE d.created_at >= r.start_ms AND d.created_at < r.end_ms "
    "AND d.dry_run = 0) <> (SELECT COALESCE(SUM(x.decisions), 0) FROM rollup_decisions x "
    "WHERE x.day_start = r.start_ms) "
    "OR (SELECT COUNT(*) FROM attempts a JOIN decisions d ON d.id = a.decision_id WHERE a.created_at >= r.start_ms "
    "AND a.created_at < r.end_ms AND d.dry_run = 0) <> (SELECT COALESCE(SUM(y.attempts), 0) FROM rollup_attempts y "
    "WHERE y.day_start = r.start_ms)) ORDER BY r.start_ms"
)


async def _redo_late_days(store: Store, now: datetime, tz: str, busy_timeout_ms: int | None) -> list[str]:
    """Roll up again the days whose rows arrived after they were rolled: a settlement journaled while router.db
    was locked and replayed later, or another process's late write. Returns those days."""
    redone: list[str] = []
    for day, start_ms, end_ms in await store.fetchall(_SQL_LATE_DAYS):
        cells = await store.read(raw_cells_job(from_ms(start_ms), from_ms(end_ms), tz, daily=True))
        job = _store_day_job(date.fromisoformat(day), start_ms, end_ms, cells, now, redo=True)
        if await store.write(job, busy_timeout_ms=busy_timeout_ms):
            redone.append(day)
    return redone


async def roll_up(
    store: Store, now: datetime, tz: str, *, grace: timedelta = ROLLUP_GRACE, busy_timeout_ms: int | None = None
) -> list[str]:
    """Roll up every complete day not rolled yet, oldest first, one read and one short transaction per day, and
    again any rolled day whose raw rows have changed since; returns the days this call rolled (another process
    may have rolled some: those are skipped).

    Raises:
        StoreLocked: another process held the write lock past `busy_timeout_ms` (the days done so far stay done).
    """
    rolled = await _redo_late_days(store, now, tz, busy_timeout_ms)
    while True:
        day = await store.read(_next_day_job(tz))
        if day is None:
            return rolled
        start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        if end + grace > now:
            return rolled
        cells = await store.read(raw_cells_job(start, end, tz, daily=True))
        job = _store_day_job(day, to_ms(start), to_ms(end), cells, now)
        if await store.write(job, busy_timeout_ms=busy_timeout_ms):
            rolled.append(day.isoformat())


def _histogram(text: str | None) -> Latencies:
    return Latencies() if text is None else Latencies.from_json(text)


def _rolled_attempts(
    conn: Connection, start: int, end: int, member: str | None, latencies: bool
) -> Iterable[AttemptCell]:
    histograms = "latency_hist, ttft_hist" if latencies else "NULL, NULL"
    for row in conn.execute(
        *_only(
            "SELECT day, day_start, provider, model, task_type, outcome, error_class, member, multi, served, "
            f"attempts, input_tokens, output_tokens, cache_read_tokens, cost_nusd, latency_ms_sum, {histograms} "
            "FROM rollup_attempts WHERE day_start >= ? AND day_start < ?",
            "member",
            (start, end),
            member,
        ),
    ):
        yield AttemptCell(row[0], from_ms(row[1]), row[2], row[3], _some(row[4]), row[5], _some(row[6]),
                          _some(row[7]), bool(row[8]), bool(row[9]), row[10], row[11], row[12], row[13],
                          row[14], float(row[15]),
                          _histogram(row[16]), _histogram(row[17]), True)  # fmt: skip


def _rolled_decisions(conn: Connection, start: int, end: int, member: str | None) -> Iterable[DecisionCell]:
    for row in conn.execute(
        *_only(
            "SELECT day, day_start, task_type, provider, outcome, multi, member, decisions FROM rollup_decisions "
            "WHERE day_start >= ? AND day_start < ?",
            "member",
            (start, end),
            member,
        ),
    ):
        yield DecisionCell(row[0], from_ms(row[1]), _some(row[2]), _some(row[3]), row[4], bool(row[5]),
                           _some(row[6]), row[7], True)  # fmt: skip


def _joined(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted intervals with the adjacent ones joined (consecutive rolled days read in one query)."""
    joined: list[tuple[int, int]] = []
    for low, high in intervals:
        if joined and joined[-1][1] == low:
            joined[-1] = (joined[-1][0], high)
        else:
            joined.append((low, high))
    return joined


def _gaps(start: int, end: int, covered: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) minus the sorted, disjoint `covered` intervals."""
    gaps: list[tuple[int, int]] = []
    cursor = start
    for low, high in covered:
        if low > cursor:
            gaps.append((cursor, low))
        cursor = max(cursor, high)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def cells_job(
    since: datetime,
    until: datetime,
    tz: str,
    member: str | None = None,
    *,
    rolled: bool = True,
    prefer_raw: bool = False,
    latencies: bool = True,
) -> Job[Cells]:
    """Cells of [since, until): rolled days (wholly inside it) from the roll-ups, the rest from the raw rows
    (`rolled=False`: everything from the raw rows; `prefer_raw`: only the rolled days retention pruned raw rows
    of from the roll-ups; `latencies=False`: rolled cells without their histograms, for reports of sums)."""
    start, end = to_ms(since), to_ms(until)
    pruned_only = " AND raw_pruned = 1" if prefer_raw else ""

    def job(conn: Connection) -> Cells:
        days = conn.execute(
            f"SELECT day, start_ms, end_ms FROM rollup_days WHERE start_ms >= ? AND end_ms <= ?{pruned_only} "
            "ORDER BY start_ms",
            (start, end),
        ).fetchall() if rolled else []  # fmt: skip
        attempts: list[AttemptCell] = []
        decisions: list[DecisionCell] = []
        covered = _joined((low, high) for _, low, high in days)
        for low, high in covered:
            attempts += _rolled_attempts(conn, low, high, member, latencies)
            decisions += _rolled_decisions(conn, low, high, member)
        for low, high in _gaps(start, end, covered):
            raw = raw_cells_job(from_ms(low), from_ms(high), tz, member)(conn)
            attempts += raw.attempts
            decisions += raw.decisions
        return Cells(tuple(attempts), tuple(decisions), tuple(day for day, _, _ in days))

    return job


class Rollups:
    """The reports' reads of a period as cells (`cells`), and the roll-up of complete days (`roll_up`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def cells(
        self,
        since: datetime,
        until: datetime,
        tz: str,
        *,
        member: str | None = None,
        rolled: bool = True,
        prefer_raw: bool = False,
        latencies: bool = True,
    ) -> Cells:
        """The period's cells, only `member`'s decisions' when given (`rolled`, `prefer_raw`, `latencies`: as
        `cells_job`)."""
        job = cells_job(since, until, tz, member, rolled=rolled, prefer_raw=prefer_raw, latencies=latencies)
        return await self._store.read(job)

    async def roll_up(self, now: datetime, tz: str, *, busy_timeout_ms: int | None = None) -> list[str]:
        """`roll_up` on this store."""
        return await roll_up(self._store, now, tz, busy_timeout_ms=busy_timeout_ms)


def latencies(cells: Iterable[AttemptCell]) -> Latencies:
    """The latencies of `cells` together."""
    return merged(cell.latencies for cell in cells)


def ttfts(cells: Iterable[AttemptCell]) -> Latencies:
    """The times to first token of `cells` together."""
    return merged(cell.ttfts for cell in cells)
