"""Reads of the decision log for the reports over a period: costs, performance, the flow picture and activity.

Every instant is a parameter (no clock here); rows come back as frozen facts the views aggregate. Time to first
token is read from `attempts.ttft_ms` where a row has it (NULL: not measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.connection import Connection
from storage.db import Store
from storage.windows import from_ms, to_ms

NANO = 1_000_000_000


@dataclass(frozen=True, slots=True)
class AttemptFact:
    """One attempt of a (non dry-run) decision, with its decision's task type and reason."""

    decision_id: int
    started_at: datetime
    provider: str
    model: str
    account: str
    outcome: str
    error_class: str | None
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost_usd: float
    task_type: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DecisionFact:
    """One (non dry-run) decision: where it went and how it ended."""

    id: int
    created_at: datetime
    task_type: str | None
    provider: str | None
    model: str | None
    reason: str | None
    conversation_id: str | None
    attempts: int
    served: bool
    cost_usd: float


@dataclass(frozen=True, slots=True)
class Watermark:
    """What changes when anything is routed: the newest decision, attempt and switch ids (0: none yet)."""

    decision_id: int
    attempt_id: int
    switch_id: int


def _has_ttft(conn: Connection) -> bool:
    return any(column[0] == "ttft_ms" for column in conn.execute("SELECT * FROM attempts LIMIT 0").description)


class Analytics:
    """The period reads behind `costs`, `performance`, `log --flow` and the dashboard."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def attempts(self, since: datetime, until: datetime) -> list[AttemptFact]:
        """Attempts started in [since, until) of decisions that were not dry runs, oldest first."""
        params = (to_ms(since), to_ms(until))

        def job(conn: Connection) -> list[AttemptFact]:
            ttft = "a.ttft_ms" if _has_ttft(conn) else "NULL"
            rows = conn.execute(
                f"SELECT a.decision_id, a.created_at, a.provider, a.model, a.account, a.outcome, a.error_class, "
                f"a.latency_ms, {ttft}, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cost_nusd, "
                "d.task_type, d.reason FROM attempts a JOIN decisions d ON d.id = a.decision_id "
                "WHERE a.created_at >= ? AND a.created_at < ? AND d.dry_run = 0 ORDER BY a.created_at, a.id",
                params,
            ).fetchall()
            return [
                AttemptFact(r[0], from_ms(r[1]), r[2], r[3], r[4], r[5], r[6], float(r[7]),
                            None if r[8] is None else float(r[8]), r[9], r[10], r[11], r[12] / NANO, r[13], r[14])
                for r in rows
            ]  # fmt: skip

        return await self._store.read(job)

    async def decisions(self, since: datetime, until: datetime) -> list[DecisionFact]:
        """Decisions made in [since, until) that were not dry runs, oldest first, with their attempts counted."""
        rows = await self._store.fetchall(
            "SELECT d.id, d.created_at, d.task_type, d.provider, d.model, d.reason, d.conversation_id, "
            "COUNT(a.id), COALESCE(MAX(CASE WHEN a.outcome = 'success' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(a.cost_nusd), 0) "
            "FROM decisions d LEFT JOIN attempts a ON a.decision_id = d.id "
            "WHERE d.created_at >= ? AND d.created_at < ? AND d.dry_run = 0 GROUP BY d.id ORDER BY d.id",
            (to_ms(since), to_ms(until)),
        )
        return [
            DecisionFact(r[0], from_ms(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), r[9] / NANO) for r in rows
        ]

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
