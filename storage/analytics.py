"""Reads of the decision log for the activity view and the dashboard's live updates (the period reports read
storage/rollups.py). Every instant is a parameter (no clock here)."""

from __future__ import annotations

from datetime import datetime

from providers.values import read_only_hashable
from storage.db import Store
from storage.windows import from_ms, to_ms


@read_only_hashable
class Watermark:
    """What changes when anything is routed: the newest decision, attempt and switch ids (0: none yet)."""

    decision_id: int
    attempt_id: int
    switch_id: int


class Analytics:
    """When decisions were made, and whether anything was routed since the last look."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def decision_times(self, since: datetime, until: datetime) -> list[datetime]:
        """When each (non dry-run) decision in [since, until) was made, oldest first."""
        rows = await self._store.fetchall(
            "SELECT created_at FROM decisions WHERE created_at >= ? AND created_at < ? AND dry_run = 0 "
            "ORDER BY created_at",
            (to_ms(since), to_ms(until)),
        )
        return [from_ms(row[0]) for row in rows]

    async def watermark(self) -> Watermark:
        """The newest ids: a change means something was routed or switched since the last look."""
        rows = await self._store.fetchall(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM decisions), (SELECT COALESCE(MAX(id), 0) FROM attempts), "
            "(SELECT COALESCE(MAX(id), 0) FROM switches)"
        )
        decision, attempt, switch = rows[0]
        return Watermark(int(decision), int(attempt), int(switch))
