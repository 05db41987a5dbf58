"""The state routing reads before deciding, assembled from one consistent read of the store."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from providers.calendar import require_aware
from providers.models import Account
from providers.ratelimits import plausible_limit
from providers.values import read_only
from storage.accounts import LEARNED_LIMIT_TTL
from storage.connection import Connection
from storage.windows import MINUTE, day_window, from_ms, month_window, to_ms

if TYPE_CHECKING:
    from storage.db import Job

NANO = 1_000_000_000
#: how far back attempts are read for the latency estimate, and how many at most
LATENCY_WINDOW = timedelta(hours=6)
LATENCY_ROWS = 500


@read_only
class WindowUsage:
    """Requests, tokens and USD counted in one window (settled calls plus live reservations)."""

    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@read_only
class Usages:
    """Usage in the rolling minute, the calendar day and the calendar month, and when the calendar ones reset."""

    minute: WindowUsage
    day: WindowUsage
    month: WindowUsage
    day_resets_at: datetime
    month_resets_at: datetime


@read_only
class Health:
    """Cooldown, exhaustion, circuit breaker and header-learned per-minute limits of an account or account+model.

    Learned limits are the ones still in force (learned within `LEARNED_LIMIT_TTL`), with when they were learned."""

    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None
    exhausted_until: datetime | None = None
    exhausted_reason: str | None = None
    consecutive_failures: int = 0
    breaker_open_until: datetime | None = None
    learned_requests_limit: int | None = None
    learned_tokens_limit: int | None = None
    learned_at: datetime | None = None
    #: what the response headers last said is left of the per-minute windows (None: nothing said, or its reset
    #: passed), and when that figure resets
    requests_left: int | None = None
    requests_left_until: datetime | None = None
    tokens_left: int | None = None
    tokens_left_until: datetime | None = None


@read_only
class ModelState:
    usage: Usages
    health: Health


@read_only
class AccountState:
    """One account: its whole usage and health, `disabled_reason` if disabled, and per-model detail."""

    id: str
    usage: Usages
    health: Health
    disabled_reason: str | None
    models: Mapping[str, ModelState]

    def model(self, model: str) -> ModelState:
        """The state of one model of this account (empty usage and health if nothing is recorded)."""
        found = self.models.get(model)
        if found is not None:
            return found
        usage = self.usage
        return ModelState(Usages(_NONE, _NONE, _NONE, usage.day_resets_at, usage.month_resets_at), _NO_HEALTH)


@read_only
class StateSnapshot:
    """Everything routing reads at one instant. `retired` maps (provider, model) to the reason;
    `latency_p50_ms` maps (provider, model) to the median latency of recent successful attempts (when read).

    The rolling minute's usage is read only for accounts with a per-minute limit (configured or learned from
    headers); it is zero for the others, which no per-minute window applies to."""

    taken_at: datetime
    accounts: Mapping[str, AccountState]
    global_usage: Usages
    retired: Mapping[tuple[str, str], str] = field(default_factory=dict)
    latency_p50_ms: Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: pool -> the account the round-robin cursor chose last
    pool_cursors: Mapping[str, str] = field(default_factory=dict)
    #: the global manual switch in force: (provider, model or None)
    global_pin: tuple[str, str | None] | None = None
    #: (account, model) with a call in flight now: a live reservation, in any process, made within the job's
    #: `in_flight_for` (a crashed process's reservation holds its budget until it expires, but no call of it runs)
    in_flight: frozenset[tuple[str, str]] = frozenset()


_Key = tuple[str, str]  # (account, model); '' = all


class _Sums:
    __slots__ = ("cost", "requests", "tokens")

    def __init__(self) -> None:
        self.requests = 0
        self.tokens = 0
        self.cost = 0

    def add(self, requests: int, tokens: int, cost: int) -> None:
        self.requests += requests
        self.tokens += tokens
        self.cost += cost

    def usage(self) -> WindowUsage:
        return WindowUsage(self.requests, self.tokens, self.cost / NANO)


# The state rows, in one statement; six row kinds padded to thirteen columns:
# c = settled counters of the current periods, p = live pending reservations (summed per account, model and periods
# in SQL: a request's cost must not grow with the calls in flight), s = account state,
# r = retired models, k = pool cursors, g = the global manual switch.
_SQL_SNAPSHOT = """
SELECT 'c', account, model, period, requests, tokens, cost_nusd, NULL, NULL, NULL, NULL, NULL, NULL
FROM usage_counters WHERE period IN (SELECT value FROM json_each(:periods))
UNION ALL
SELECT 'p', account, model, account_day, account_month, global_day, global_month, SUM(tokens), SUM(cost_nusd),
       COUNT(*), MAX(created_at), NULL, NULL
FROM reservations WHERE state = 'pending' AND expires_at > :now
GROUP BY account, model, account_day, account_month, global_day, global_month
UNION ALL
SELECT 's', account, model, cooldown_until, cooldown_reason, exhausted_until, exhausted_reason, disabled_reason,
       consecutive_failures, breaker_open_until, learned_requests_limit, learned_tokens_limit,
       CASE WHEN learned_at > :learned_since THEN learned_at END
FROM account_state
UNION ALL
SELECT 'r', provider, model, reason, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM retired_models
UNION ALL
SELECT 'k', pool, last_account, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM pool_cursors
UNION ALL
SELECT 'g', provider, model, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM pins
WHERE scope = 'global'"""

# The rolling minute, read only for the accounts with a per-minute limit (configured, or learned: the state rows
# name them), and not at all when none has one: its cost grows with the calls of the last minute, and nothing else
# needs it.
_SQL_MINUTE = """
SELECT account, model, COUNT(*), SUM(tokens), SUM(cost_nusd)
FROM reservations
WHERE account IN (SELECT value FROM json_each(:limited))
  AND created_at > :since AND (state = 'settled' OR (state = 'pending' AND expires_at > :now))
GROUP BY account, model"""

# What the headers last said is left of per-minute windows whose reset has not passed.
_SQL_HEADER_LEFT = """
SELECT account, model, CASE WHEN header_requests_reset_at > :now THEN header_requests_left END,
       header_requests_reset_at, CASE WHEN header_tokens_reset_at > :now THEN header_tokens_left END,
       header_tokens_reset_at
FROM account_state WHERE header_requests_reset_at > :now OR header_tokens_reset_at > :now"""

# Recent successful latencies, for the median per (provider, model).
_SQL_LATENCY = """
SELECT provider, model, latency_ms FROM attempts
WHERE outcome = 'success' AND created_at >= :since ORDER BY created_at DESC LIMIT :rows"""


class _Tally:
    """Usage sums per (account, model) and window while the rows are read; '' = all."""

    def __init__(self, zones: dict[str, str], global_tz: str, now: datetime, in_flight_since: int = -1) -> None:
        self.zones = zones
        self.global_tz = global_tz
        self.days = {tz: day_window(now, tz) for tz in {*zones.values(), global_tz}}
        self.months = {tz: month_window(now, tz) for tz in self.days}
        #: per zone: its current day's and month's period keys
        self.keys = {tz: (day.key, self.months[tz].key) for tz, day in self.days.items()}
        #: per account: its zone's period keys, found once (`period_keys` reads them for every row)
        self.account_keys = {account: self.keys[tz] for account, tz in zones.items()}
        self.global_keys = self.keys[global_tz]
        self.sums: dict[tuple[str, str, str], _Sums] = defaultdict(_Sums)
        #: (account, model) with a live reservation made after `in_flight_since` (ms)
        self.in_flight: set[tuple[str, str]] = set()
        self.in_flight_since = in_flight_since

    def zone(self, account: str) -> str:
        return self.zones.get(account, self.global_tz) if account else self.global_tz

    def period_keys(self, account: str) -> tuple[str, str]:
        """The current day's and month's period keys in `account`'s zone (as `zone` finds it)."""
        return self.account_keys.get(account, self.global_keys)

    def periods(self) -> list[str]:
        return sorted({w.key for w in self.days.values()} | {w.key for w in self.months.values()})

    def counter(self, account: str, model: str, period: str, requests: int, tokens: int, cost: int) -> None:
        day, month = self.period_keys(account)
        if period == day:
            self.sums[account, model, "day"].add(requests, tokens, cost)
        elif period == month:
            self.sums[account, model, "month"].add(requests, tokens, cost)

    def pending(self, row: Sequence[Any]) -> None:
        account, model, a_day, a_month, g_day, g_month, tokens, cost, count, latest = row
        if latest > self.in_flight_since:
            self.in_flight.add((account, model))
        day, month = self.period_keys(account)
        for window, period, key in (("day", a_day, day), ("month", a_month, month)):
            if period == key:
                self.sums[account, model, window].add(count, tokens, cost)
                self.sums[account, "", window].add(count, tokens, cost)
        global_day, global_month = self.global_keys
        if g_day == global_day:
            self.sums["", "", "day"].add(count, tokens, cost)
        if g_month == global_month:
            self.sums["", "", "month"].add(count, tokens, cost)

    def minute(self, account: str, model: str, requests: int, tokens: int, cost: int) -> None:
        self.sums[account, model, "minute"].add(requests, tokens, cost)
        self.sums[account, "", "minute"].add(requests, tokens, cost)
        self.sums["", "", "minute"].add(requests, tokens, cost)

    def usages(self, account: str, model: str) -> Usages:
        tz = self.zone(account)
        get = self.sums.get
        return Usages(
            _usage(get((account, model, "minute"))),
            _usage(get((account, model, "day"))),
            _usage(get((account, model, "month"))),
            self.days[tz].end,
            self.months[tz].end,
        )


def _usage(found: _Sums | None) -> WindowUsage:
    return found.usage() if found is not None else _NONE


#: a window with nothing counted, and no health recorded (read-only: one instance serves every such case)
_NONE = WindowUsage()
_NO_HEALTH = Health()


class _Read:
    """The non-usage rows of the snapshot statement, sorted by kind while they are read."""

    def __init__(self) -> None:
        self.health: dict[_Key, Health] = {}
        self.disabled: dict[str, str] = {}
        self.retired: dict[tuple[str, str], str] = {}
        self.cursors: dict[str, str] = {}
        self.pin: tuple[str, str | None] | None = None
        #: accounts with a per-minute limit learned from headers and still in force (on the account or a model)
        self.learned: set[str] = set()

    def add(self, tally: _Tally, row: Sequence[Any]) -> None:
        """One row of the snapshot statement, its kind first (the usual `c` row passed on without a copy)."""
        kind = row[0]
        if kind == "c":
            tally.counter(row[1], row[2], row[3], row[4], row[5], row[6])
        elif kind == "p":
            tally.pending(row[1:11])
        elif kind == "s":
            self.health[row[1], row[2]] = _health(row[1:])
            if row[12] is not None and (row[10] is not None or row[11] is not None):
                self.learned.add(row[1])
            if row[7] is not None and not row[2]:
                self.disabled[row[1]] = row[7]
        elif kind == "r":
            self.retired[row[1], row[2]] = row[3]
        elif kind == "k":
            self.cursors[row[1]] = row[2]
        else:
            self.pin = (row[1], row[2])

    def header_left(self, account: str, model: str, row: Sequence[Any]) -> None:
        requests, requests_until, tokens, tokens_until = row
        health = self.health.get((account, model), _NO_HEALTH)
        self.health[account, model] = replace(
            health,
            requests_left=requests,
            requests_left_until=_instant(requests_until) if requests is not None else None,
            tokens_left=tokens,
            tokens_left_until=_instant(tokens_until) if tokens is not None else None,
        )

    def account(self, tally: _Tally, account_id: str, models: set[str]) -> AccountState:
        health = self.health
        return AccountState(
            id=account_id,
            usage=tally.usages(account_id, ""),
            health=health.get((account_id, ""), _NO_HEALTH),
            disabled_reason=self.disabled.get(account_id),
            models={
                m: ModelState(tally.usages(account_id, m), health.get((account_id, m), _NO_HEALTH))
                for m in sorted(models)
            },
        )


def snapshot_job(
    accounts: Sequence[Account],
    now: datetime,
    global_tz: str,
    *,
    latency: bool = True,
    in_flight_for: timedelta | None = None,
) -> Job[StateSnapshot]:
    """A job that assembles a `StateSnapshot` (run it in a read transaction for one consistent view: `Store.read`).

    `latency=False` leaves out the latency estimate (`latency_p50_ms` is then empty): it changes slowly, and its
    rows cost more to read than everything else. `in_flight_for`: how long a call can run (a reservation older
    than that counts in the sums but not as a call in flight); None: as long as the reservation lives.
    """
    now = require_aware(now)
    now_ms = to_ms(now)
    zones = {account.id: account.quota.timezone for account in accounts}
    limited = {
        a.id for a in accounts if a.quota.requests_per_minute is not None or a.quota.tokens_per_minute is not None
    }
    learned_since = to_ms(now - LEARNED_LIMIT_TTL)
    since = to_ms(now - MINUTE)
    recent = {"since": to_ms(now - LATENCY_WINDOW), "rows": LATENCY_ROWS}
    in_flight_since = to_ms(now - in_flight_for) if in_flight_for is not None else -1

    def job(conn: Connection) -> StateSnapshot:
        tally = _Tally(zones, global_tz, now, in_flight_since)
        read = _Read()
        state = {"periods": json.dumps(tally.periods()), "now": now_ms, "learned_since": learned_since}
        for row in conn.execute(_SQL_SNAPSHOT, state):
            read.add(tally, row)
        measured = limited | read.learned
        if measured:
            minute = {"limited": json.dumps(sorted(measured)), "since": since, "now": now_ms}
            for account, model, requests, tokens, cost in conn.execute(_SQL_MINUTE, minute):
                tally.minute(account, model, requests, tokens, cost)
        for account, model, *left in conn.execute(_SQL_HEADER_LEFT, {"now": now_ms}):
            read.header_left(account, model, left)
        latencies = _medians(conn.execute(_SQL_LATENCY, recent)) if latency else {}
        return _assemble(tally, read, latencies, now)

    return job


def _medians(rows: Iterable[tuple[str, str, float]]) -> dict[tuple[str, str], float]:
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for provider, model, latency_ms in rows:
        samples[provider, model].append(latency_ms)
    return {key: statistics.median(values) for key, values in samples.items()}


def _assemble(tally: _Tally, read: _Read, latencies: Mapping[tuple[str, str], float], now: datetime) -> StateSnapshot:
    models_of: dict[str, set[str]] = defaultdict(set)
    for account, model, *_ in (*tally.sums, *read.health):
        if model:
            models_of[account].add(model)
    return StateSnapshot(
        taken_at=now,
        accounts={account_id: read.account(tally, account_id, models_of[account_id]) for account_id in tally.zones},
        global_usage=tally.usages("", ""),
        retired=read.retired,
        latency_p50_ms=latencies,
        pool_cursors=read.cursors,
        global_pin=read.pin,
        in_flight=frozenset(tally.in_flight),
    )


def _health(row: Sequence[Any]) -> Health:
    _, _, cool, cool_why, exh, exh_why, _, failures, breaker, rpm, tpm, learned_at = row
    fresh = learned_at is not None
    return Health(
        cooldown_until=_instant(cool),
        cooldown_reason=cool_why,
        exhausted_until=_instant(exh),
        exhausted_reason=exh_why,
        consecutive_failures=failures,
        breaker_open_until=_instant(breaker),
        learned_requests_limit=plausible_limit(rpm) if fresh else None,
        learned_tokens_limit=plausible_limit(tpm) if fresh else None,
        learned_at=_instant(learned_at),
    )


def _instant(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)
