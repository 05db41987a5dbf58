"""Account health shared by every process: cooldowns, exhaustion, disabling, retired models, circuit breakers,
limits learned from headers, and the round-robin cursor of each pool.

`model=None` means the whole account. The router reads all of it back through `Ledger.snapshot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from providers.ratelimits import learnable
from providers.types import RateLimits
from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job, Store
from storage.windows import MINUTE, from_ms, to_ms

DEFAULT_BREAKER_THRESHOLD = 3
DEFAULT_BREAKER_OPEN_FOR = timedelta(seconds=30)
#: a limit learned from headers describes the window it was read in (a minute: headers report per-minute limits);
#: one learned longer ago than that is forgotten, and later headers teach it again
LEARNED_LIMIT_TTL = MINUTE
#: the longest a "nothing remaining" header cools a model down: the longest window providers report in headers is a
#: day, so a reset further away is noise that would otherwise lock the model out for as long
MAX_HEADER_COOLDOWN = timedelta(days=1)


@read_only_hashable
class BreakerState:
    consecutive_failures: int
    open_until: datetime | None


# Cooldown and exhaustion never shorten one in force: the most pessimistic signal wins until `reset`.
_SQL_SET_UNTIL = """
INSERT INTO account_state (account, model, {col}_until, {col}_reason, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account, model) DO UPDATE SET
    {col}_reason = CASE WHEN account_state.{col}_until IS NULL OR excluded.{col}_until >= account_state.{col}_until
                        THEN excluded.{col}_reason ELSE account_state.{col}_reason END,
    {col}_until = CASE WHEN excluded.{col}_until > COALESCE(account_state.{col}_until, 0) THEN excluded.{col}_until
                       ELSE COALESCE(account_state.{col}_until, 0) END,
    updated_at = excluded.updated_at"""

_SQL_FAILURE = """
INSERT INTO account_state (account, model, consecutive_failures, breaker_open_until, updated_at)
VALUES (:account, :model, 1, CASE WHEN 1 >= :threshold THEN :open_until END, :now)
ON CONFLICT (account, model) DO UPDATE SET
    consecutive_failures = account_state.consecutive_failures + 1,
    breaker_open_until = CASE WHEN account_state.consecutive_failures + 1 >= :threshold THEN :open_until
                              ELSE account_state.breaker_open_until END,
    updated_at = :now
RETURNING consecutive_failures, breaker_open_until"""

_SQL_LEARN = """
INSERT INTO account_state (account, model, learned_requests_limit, learned_tokens_limit, learned_at, updated_at)
VALUES (:account, :model, :rpm, :tpm, :now, :now)
ON CONFLICT (account, model) DO UPDATE SET
    learned_requests_limit = CASE WHEN :rpm IS NOT NULL THEN :rpm
                                  WHEN account_state.learned_at > :stale THEN account_state.learned_requests_limit END,
    learned_tokens_limit = CASE WHEN :tpm IS NOT NULL THEN :tpm
                                WHEN account_state.learned_at > :stale THEN account_state.learned_tokens_limit END,
    learned_at = :now, updated_at = :now"""


class AccountStates:
    """Writes of account health the CLI and the bench make; every method is one atomic statement, one hop to the
    store's thread. The router's writes are the `*_job` builders, run with others in one unit (`Store.write`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def set_exhausted(self, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> None:
        """Mark a quota exhausted until its window resets; the router must not re-probe before `until`."""
        await self._store.run(exhausted_job(account, model, until, reason, now))

    async def enable(self, account: str) -> None:
        """Lift `disable_job` (e.g. after `keys set` stored a new key)."""
        await self._store.execute("UPDATE account_state SET disabled_reason = NULL WHERE account = ?", (account,))

    async def reset(self, account: str | None = None) -> int:
        """Clear cooldowns, exhaustion, breakers and limits learned from headers of one account (all when None);
        keeps disabling (a refused key stays refused until `keys set`). Returns the number of rows cleared."""
        return await self._store.execute(
            "UPDATE account_state SET cooldown_until = NULL, cooldown_reason = NULL, exhausted_until = NULL, "
            "exhausted_reason = NULL, consecutive_failures = 0, breaker_open_until = NULL, "
            "learned_requests_limit = NULL, learned_tokens_limit = NULL, learned_at = NULL, "
            "header_requests_left = NULL, header_requests_reset_at = NULL, header_tokens_left = NULL, "
            "header_tokens_reset_at = NULL "
            "WHERE ? IS NULL OR account = ?",
            (account, account),
        )


def cooldown_job(account: str, model: str | None, until: datetime, reason: str, now: datetime) -> Job[None]:
    """Keep `account` (or only its `model`) out of routing until `until` (rate limited, overloaded)."""
    return _until_job("cooldown", account, model, until, reason, now)


def exhausted_job(account: str, model: str | None, until: datetime, reason: str, now: datetime) -> Job[None]:
    """Mark a quota exhausted until its window resets; the router must not re-probe before `until`."""
    return _until_job("exhausted", account, model, until, reason, now)


def _until_job(column: str, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> Job[None]:
    sql = _SQL_SET_UNTIL.format(col=column)
    params = (account, model or "", to_ms(until), reason, to_ms(now))

    def job(conn: Connection) -> None:
        conn.execute(sql, params)

    return job


def disable_job(account: str, reason: str, now: datetime) -> Job[None]:
    """Disable an account (e.g. its key was refused) until `AccountStates.enable`."""
    params = (account, reason, to_ms(now))

    def job(conn: Connection) -> None:
        conn.execute(
            "INSERT INTO account_state (account, model, disabled_reason, updated_at) VALUES (?, '', ?, ?) "
            "ON CONFLICT (account, model) DO UPDATE SET disabled_reason = excluded.disabled_reason, "
            "updated_at = excluded.updated_at",
            params,
        )

    return job


def retired_job(provider: str, model: str, reason: str, now: datetime) -> Job[None]:
    """Record that a provider no longer serves `model` (404); the account stays usable for other models."""
    params = (provider, model, reason, to_ms(now))

    def job(conn: Connection) -> None:
        conn.execute(
            "INSERT INTO retired_models (provider, model, reason, retired_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (provider, model) DO UPDATE SET reason = excluded.reason",
            params,
        )

    return job


def failure_job(
    account: str,
    model: str | None,
    now: datetime,
    *,
    threshold: int = DEFAULT_BREAKER_THRESHOLD,
    open_for: timedelta = DEFAULT_BREAKER_OPEN_FOR,
) -> Job[BreakerState]:
    """Count a failure towards the breaker; at `threshold` consecutive failures it opens for `open_for`.

    Once open and expired (half-open), the next failure re-opens it at once, since the count stays above
    the threshold until a success.
    """
    params = {
        "account": account,
        "model": model or "",
        "threshold": threshold,
        "open_until": to_ms(now + open_for),
        "now": to_ms(now),
    }

    def job(conn: Connection) -> BreakerState:
        failures, open_until = conn.execute(_SQL_FAILURE, params).fetchone()
        return BreakerState(failures, None if open_until is None else from_ms(open_until))

    return job


def success_job(account: str, model: str | None) -> Job[None]:
    """Close the breaker and reset the consecutive-failure count."""
    params = (account, model or "")

    def job(conn: Connection) -> None:
        conn.execute(
            "UPDATE account_state SET consecutive_failures = 0, breaker_open_until = NULL "
            "WHERE account = ? AND model = ? AND (consecutive_failures > 0 OR breaker_open_until IS NOT NULL)",
            params,
        )

    return job


def learn_job(account: str, model: str, limits: RateLimits, now: datetime) -> Job[None]:
    """Adopt what response headers said about an account+model (several statements: run it inside a transaction).

    - `*_limit` values are taken as per-minute limits (what OpenAI-style and Anthropic headers report) and
      replace the configured per-minute limits for that model from the next reservation on, for
      `LEARNED_LIMIT_TTL` after `now`. A limit of 0 or an absurd one is not stored (no information).
    - `*_remaining == 0` with a reset time in the future cools the model down until then.
    - `*_remaining` is kept with its reset (a minute at most): until then the model's per-minute window has no more
      left than that, less what the router sent since (the snapshot's `Health.requests_left`).
    """
    limits = learnable(limits)
    rpm, tpm = limits.requests_limit, limits.tokens_limit
    now_ms = to_ms(now)
    stale = to_ms(now - LEARNED_LIMIT_TTL)
    learned = {"account": account, "model": model, "rpm": rpm, "tpm": tpm, "now": now_ms, "stale": stale}
    cooldowns = [
        (
            account,
            model,
            to_ms(min(reset_at, now + MAX_HEADER_COOLDOWN)),
            f"rate_limited: no {kind} remaining (response headers)",
            now_ms,
        )
        for kind, remaining, reset_at in (
            ("requests", limits.requests_remaining, limits.requests_reset_at),
            ("tokens", limits.tokens_remaining, limits.tokens_reset_at),
        )
        if remaining is not None and remaining <= 0 and reset_at is not None and reset_at > now
    ]

    left = _header_left(account, model, limits, now)

    def job(conn: Connection) -> None:
        if rpm is not None or tpm is not None:
            conn.execute(_SQL_LEARN, learned)
        if left is not None:
            conn.execute(_SQL_LEFT, left)
        for params in cooldowns:
            conn.execute(_SQL_SET_UNTIL.format(col="cooldown"), params)

    return job


_SQL_LEFT = """
INSERT INTO account_state (account, model, header_requests_left, header_requests_reset_at, header_tokens_left,
                           header_tokens_reset_at, updated_at)
VALUES (:account, :model, :requests, :requests_reset, :tokens, :tokens_reset, :now)
ON CONFLICT (account, model) DO UPDATE SET
    header_requests_left = :requests, header_requests_reset_at = :requests_reset,
    header_tokens_left = :tokens, header_tokens_reset_at = :tokens_reset, updated_at = :now"""


def _header_left(account: str, model: str, limits: RateLimits, now: datetime) -> dict[str, object] | None:
    """What the headers say is left of each per-minute window, with its reset (at most a minute away when the
    header gave none or a far one): None when they say nothing of it."""
    cap = now + LEARNED_LIMIT_TTL
    values: dict[str, object] = {"account": account, "model": model, "now": to_ms(now)}
    known = False
    for kind, left, reset_at in (
        ("requests", limits.requests_remaining, limits.requests_reset_at),
        ("tokens", limits.tokens_remaining, limits.tokens_reset_at),
    ):
        until = min(reset_at, cap) if reset_at is not None and reset_at > now else cap
        values[kind] = left
        values[f"{kind}_reset"] = to_ms(until) if left is not None else None
        known = known or left is not None
    return values if known else None


def next_in_pool_job(pool: str, eligible: Sequence[str]) -> Job[str]:
    """The next account of a pool's rotation, shared by every process: the first of `eligible` (in pool order)
    after the one chosen last. A read and a write: run it inside `BEGIN IMMEDIATE` (`Store.write`), so concurrent
    processes rotate evenly together.

    Raises:
        ValueError: `eligible` is empty.
    """
    if not eligible:
        raise ValueError(f"pool {pool!r} has no eligible account")
    order = list(eligible)

    def job(conn: Connection) -> str:
        row = conn.execute("SELECT last_account, turns FROM pool_cursors WHERE pool = ?", (pool,)).fetchone()
        if row is None:
            chosen, turns = order[0], 0
        elif row[0] in order:
            chosen, turns = order[(order.index(row[0]) + 1) % len(order)], row[1]
        else:
            # The last one left the eligible set: continue the count instead of restarting at the first.
            chosen, turns = order[(row[1] + 1) % len(order)], row[1]
        conn.execute(
            "INSERT INTO pool_cursors (pool, last_account, turns) VALUES (?, ?, ?) "
            "ON CONFLICT (pool) DO UPDATE SET last_account = excluded.last_account, turns = excluded.turns",
            (pool, chosen, turns + 1),
        )
        return chosen

    return job


def pool_served_job(pool: str, account: str) -> Job[None]:
    """Move a pool's cursor to the account that actually served (when `next_in_pool_job`'s choice failed over to
    another account of the pool), so the rotation continues after it and no account serves twice in a row."""

    def job(conn: Connection) -> None:
        conn.execute(
            "INSERT INTO pool_cursors (pool, last_account, turns) VALUES (?, ?, 1) "
            "ON CONFLICT (pool) DO UPDATE SET last_account = excluded.last_account",
            (pool, account),
        )

    return job
