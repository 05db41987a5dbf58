"""The model listings of each account (what the provider's listing endpoint said), stored to be reused.

A listing is fetched outside any request's path (`models --refresh`, `doctor`, a server's daily background pass)
and read from here; a failed refresh keeps the last good models and records the error beside them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from providers.values import read_only_hashable
from storage.db import Store
from storage.windows import from_ms, to_ms


@read_only_hashable
class StoredListing:
    """One account's last listing: `models` as the listing module's JSON, `fetched_at` None when never fetched."""

    provider: str
    account: str
    fetched_at: datetime | None
    checked_at: datetime
    models: tuple[dict[str, Any], ...]
    error: str | None


def _row(row: Any) -> StoredListing:
    provider, account, fetched_at, models, checked_at, error = row
    decoded = json.loads(models)
    return StoredListing(
        provider=provider,
        account=account,
        fetched_at=None if fetched_at is None else from_ms(fetched_at),
        checked_at=from_ms(checked_at),
        models=tuple(entry for entry in decoded if isinstance(entry, dict)) if isinstance(decoded, list) else (),
        error=error,
    )


_COLUMNS = "provider, account, fetched_at, models, checked_at, error"


class ModelListings:
    """Reads and writes of the `model_listings` table."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def all(self) -> list[StoredListing]:
        """Every stored listing, by provider then account."""
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM model_listings ORDER BY provider, account")
        return [_row(row) for row in rows]

    async def get(self, provider: str, account: str) -> StoredListing | None:
        """The stored listing of one account, if any."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM model_listings WHERE provider = ? AND account = ?", (provider, account)
        )
        return _row(rows[0]) if rows else None

    async def save(self, provider: str, account: str, models: list[dict[str, Any]], now: datetime) -> None:
        """Store a fresh listing fetched at `now` (clearing any earlier error)."""
        ms = to_ms(now)
        await self._store.execute(
            "INSERT INTO model_listings (provider, account, fetched_at, models, checked_at, error) "
            "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (provider, account) DO UPDATE SET "
            "fetched_at = excluded.fetched_at, models = excluded.models, checked_at = excluded.checked_at, "
            "error = NULL",
            (provider, account, ms, json.dumps(models), ms),
        )

    async def failed(self, provider: str, account: str, error: str, now: datetime) -> None:
        """Record a failed refresh at `now`; the last good models (if any) stay."""
        await self._store.execute(
            "INSERT INTO model_listings (provider, account, checked_at, error) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (provider, account) DO UPDATE SET checked_at = excluded.checked_at, error = excluded.error",
            (provider, account, to_ms(now), error),
        )
