"""The quota and budget ledger: reserve before a call, settle (or release) after it; exact across processes.

How it stays exact: `reserve_job` reads every window that applies and inserts the reservation inside ONE
`BEGIN IMMEDIATE` transaction, so the check and the write of concurrent processes are serialised by SQLite
(LiteLLM checks and writes separately and overspends under concurrency). A reservation holds the estimated
tokens and the worst-case cost; `settle_job` replaces them with the real usage and cost.

What counts:
- Settled usage is summed per calendar period in `usage_counters` (global, per account, per account+model),
  keyed by the period's local name (`2026-11-28`, `2026-11`) in the account's zone — or the ledger's zone for
  the global budget — so a check is a point lookup whatever the history. A zone changed mid-period applies
  from the next reservation on.
- Pending reservations count with their estimate until they expire (`expires_at`); a process that died
  leaves reservations that simply stop counting then. Keep `ttl` longer than any call's deadline: a call
  settled after its reservation expired is still recorded, but others may have used the freed room meanwhile.
- The per-minute windows are rolling (the last 60 s), read from the reservation rows themselves.
- Every settled call counts as one request, whatever its outcome: a provider that answered — even 429 or 500 —
  has usually counted it against its own RPM/RPD. Tokens and cost are what the provider reported (usually
  zero for an error). `release_job` a reservation whose request certainly never left (cancelled before sending,
  connection refused): it then counts nothing.
- Limits learned from headers (`learn_job`) are per minute and per account+model; where
  known (learned within `LEARNED_LIMIT_TTL`, never 0) they replace the configured per-minute limits for that model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from providers.models import Account, BudgetSpec
from providers.types import Usage
from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job, Store
from storage.quota_check import (
    SQL_CHECK,
    SQL_MINUTE_CHECK,
    LimitName,
    Periods,
    Refused,
    first_refusal,
    needs_minute,
    observe,
    observe_minute,
    to_nusd,
)
from storage.snapshot import StateSnapshot, snapshot_job
from storage.windows import MINUTE, day_window, from_ms, month_window, to_ms

__all__ = ["DEFAULT_TTL", "Ledger", "LimitName", "Refused", "Reservation", "to_nusd"]

DEFAULT_TTL = timedelta(minutes=15)
#: finished reservation rows older than this are deleted by `reap_job`; the counters keep their totals
DEFAULT_KEEP_ROWS = timedelta(days=1)


@read_only_hashable
class Reservation:
    """Room held for one call; hand it back to `settle_job` or `release_job`."""

    id: int
    account: str
    model: str
    estimated_tokens: int
    worst_case_cost_usd: float
    created_at: datetime
    expires_at: datetime


_SQL_INSERT = """
INSERT INTO reservations (account, model, owner, state, created_at, expires_at, est_tokens, est_cost_nusd,
                          tokens, cost_nusd, account_day, account_month, global_day, global_month)
VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id"""

# The trigger `reservations_settled` (m001) adds the settled amounts to the counters in the same statement.
_SQL_SETTLE = """
UPDATE reservations SET state = 'settled', tokens = ?, cost_nusd = ?, settled_at = ?
WHERE id = ? AND state IN ('pending', 'expired')"""

_SQL_RELEASE = """
UPDATE reservations SET state = 'released', tokens = 0, cost_nusd = 0, settled_at = ?
WHERE id = ? AND state = 'pending'"""


class Ledger:
    """Quota windows and USD budgets shared by every process using the store.

    `budget` is the global cap (Preferences.budget), kept in calendar periods of `timezone`. Writes are jobs
    (`reserve_job` here, `settle_job`, `release_job`, `reap_job` below) to run with others in one `Store.write`.
    """

    def __init__(self, store: Store, *, budget: BudgetSpec | None = None, timezone: str = "UTC") -> None:
        self._store = store
        self.budget = budget or BudgetSpec()
        self.timezone = timezone

    def _periods(self, account: Account, now: datetime) -> Periods:
        tz = account.quota.timezone
        return Periods(
            day_window(now, tz), month_window(now, tz), day_window(now, self.timezone), month_window(now, self.timezone)
        )

    def reserve_job(
        self,
        account: Account,
        model: str,
        *,
        estimated_tokens: int,
        worst_case_cost_usd: float,
        now: datetime,
        ttl: timedelta = DEFAULT_TTL,
    ) -> Job[Reservation | Refused]:
        """Check every window and budget that applies and hold room for one call; run it inside a `BEGIN IMMEDIATE`
        transaction (`Store.write`).

        Checked: the account's disabled/exhausted/cooldown state (and the model's), requests and tokens per
        rolling minute (learned per-model limits first), per day and per month (in the account's zone), the
        account's daily/monthly USD budget and the global one. The job returns the `Reservation`, or a `Refused`
        naming the first limit that does not fit and when it resets.

        Raises:
            ValueError: an empty account id or model.
        """
        if not model or not account.id:
            raise ValueError("account id and model must be non-empty")
        periods = self._periods(account, now)
        now_ms = to_ms(now)
        expires_ms = now_ms + ttl // timedelta(milliseconds=1)
        cost_nusd = to_nusd(worst_case_cost_usd)
        params = {
            "account": account.id,
            "model": model,
            "a_day": periods.account_day.key,
            "a_month": periods.account_month.key,
            "g_day": periods.global_day.key,
            "g_month": periods.global_month.key,
            "now": now_ms,
            "since": now_ms - MINUTE // timedelta(milliseconds=1),
        }
        insert = (account.id, model, self._store.owner, now_ms, expires_ms, estimated_tokens, cost_nusd,
                  estimated_tokens, cost_nusd, periods.account_day.key, periods.account_month.key,
                  periods.global_day.key, periods.global_month.key)  # fmt: skip

        def job(conn: Connection) -> Reservation | Refused:
            seen = observe(conn.execute(SQL_CHECK, params), account.id, periods, now_ms)
            if needs_minute(seen, account):
                observe_minute(seen, conn.execute(SQL_MINUTE_CHECK, params).fetchone())
            refusal = first_refusal(seen, account, model, self.budget, periods, estimated_tokens, cost_nusd)
            if refusal is not None:
                return refusal
            row_id: int = conn.execute(_SQL_INSERT, insert).fetchone()[0]
            return Reservation(
                row_id, account.id, model, estimated_tokens, worst_case_cost_usd, from_ms(now_ms), from_ms(expires_ms)
            )

        return job

    async def snapshot(self, accounts: Iterable[Account], now: datetime) -> StateSnapshot:
        """Everything routing needs, in one consistent read: usage in every window, health, learned limits, global
        spend, retired models, recent latency. See `storage.snapshot.StateSnapshot`."""
        return await self._store.read(self.snapshot_job(accounts, now))

    def snapshot_job(
        self,
        accounts: Iterable[Account],
        now: datetime,
        *,
        latency: bool = True,
        in_flight_for: timedelta | None = None,
    ) -> Job[StateSnapshot]:
        """`snapshot` as a job, for a read transaction (`Store.read`); see `storage.snapshot.snapshot_job`."""
        return snapshot_job(list(accounts), now, self.timezone, latency=latency, in_flight_for=in_flight_for)


def reap_job(now: datetime, *, keep_rows: timedelta = DEFAULT_KEEP_ROWS) -> Job[int]:
    """Mark expired reservations (of dead or stuck processes) and delete finished rows older than `keep_rows`.

    Expired reservations stop counting at `expires_at` whether or not this runs; run it now and then (the
    server's maintenance does) to keep the table small. The job returns how many reservations expired now; two
    statements, so run it inside a transaction (`Store.write`).
    """
    now_ms = to_ms(now)

    def job(conn: Connection) -> int:
        expired = conn.execute(
            "UPDATE reservations SET state = 'expired' WHERE state = 'pending' AND expires_at <= ?", (now_ms,)
        ).rowcount
        conn.execute("DELETE FROM reservations WHERE state != 'pending' AND created_at < ?", (to_ms(now - keep_rows),))
        return expired

    return job


def settle_job(reservation: Reservation, *, usage: Usage, cost_usd: float, now: datetime) -> Job[bool]:
    """Replace the reservation's estimate with what the call really used; the job returns False if it was already
    finished (one statement).

    Counts as one request whatever the outcome (see the module docstring). A reservation that expired while its
    call ran is still settled: the call did happen.

    Raises:
        ValueError: negative or non-finite tokens or cost (spend recorded must never go down).
    """
    if usage.total_tokens < 0 or not 0 <= cost_usd < math.inf:
        raise ValueError(
            f"refusing to settle reservation {reservation.id} at {usage.total_tokens} tokens and {cost_usd} USD: "
            "a settlement is never negative"
        )
    params = (usage.total_tokens, to_nusd(cost_usd), to_ms(now), reservation.id)
    return lambda conn: conn.execute(_SQL_SETTLE, params).rowcount > 0


def release_job(reservation: Reservation, *, now: datetime) -> Job[bool]:
    """Free a reservation whose request never reached the provider; nothing is counted. The job returns False if it
    was already finished (one statement)."""
    params = (to_ms(now), reservation.id)
    return lambda conn: conn.execute(_SQL_RELEASE, params).rowcount > 0
