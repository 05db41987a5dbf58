"""The decision log: one row per routing decision (candidates, exclusions and scores as JSON), one per attempt,
one per switch of provider (manual or failover), with retention.

The prompt is never stored unless the log was opened with `keep_prompts=True` (the user's opt-in); callers
pass a short task summary instead. Secrets never reach these rows: callers pass ids, not keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from providers.attempts import AttemptRecord
from providers.types import Usage
from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job, Store
from storage.json_text import dumps_json
from storage.windows import from_ms, to_ms

NANO = 1_000_000_000


@read_only_hashable
class DecisionRecord:
    """What routing decided, in plain JSON-able values (storage does not import routing's types)."""

    task_summary: str
    candidates: Sequence[Mapping[str, JsonValue]] = ()
    exclusions: Sequence[Mapping[str, JsonValue]] = ()
    scores: Mapping[str, JsonValue] = field(default_factory=dict)
    provider: str | None = None
    model: str | None = None
    account: str | None = None
    reason: str | None = None
    confidence: float | None = None
    task_type: str | None = None
    quality: str | None = None
    conversation_id: str | None = None
    dry_run: bool = False
    #: stored only when the DecisionLog keeps prompts (opt-in)
    prompt: str | None = None


@read_only_hashable
class SwitchRecord:
    """A move of a conversation (or of everything, when `conversation_id` is None) to another provider."""

    reason: str
    from_provider: str | None = None
    from_model: str | None = None
    to_provider: str | None = None
    to_model: str | None = None
    conversation_id: str | None = None
    decision_id: int | None = None


@read_only_hashable
class LoggedDecision:
    id: int
    created_at: datetime
    record: DecisionRecord
    attempts: tuple[AttemptRecord, ...] = ()


@read_only_hashable
class LoggedSwitch:
    id: int
    created_at: datetime
    record: SwitchRecord


_DECISION_COLUMNS = (
    "id, created_at, task_summary, candidates, exclusions, scores, provider, model, account, reason, confidence, "
    "task_type, quality, conversation_id, dry_run, prompt"
)
_ATTEMPT_COLUMNS = (
    "decision_id, provider, model, account, outcome, latency_ms, created_at, error_class, input_tokens, "
    "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, usage_estimated, "
    "ttft_ms"
)
_SQL_INSERT_ATTEMPT = f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 16)})"
_SQL_INSERT_DECISION = (
    "INSERT INTO decisions (created_at, task_summary, candidates, exclusions, scores, provider, model, account, "
    "reason, confidence, task_type, quality, conversation_id, dry_run, prompt) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)

_SQL_INSERT_SWITCH = (
    "INSERT INTO switches (created_at, conversation_id, from_provider, from_model, to_provider, to_model, reason, "
    "decision_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


_TRIED = "(SELECT COUNT(*) FROM attempts a WHERE a.decision_id = decisions.id)"
_SERVED = "EXISTS (SELECT 1 FROM attempts a WHERE a.decision_id = decisions.id AND a.outcome = 'success')"
# fixed SQL per outcome (never caller text)
_OUTCOME_SQL = {
    "served": f"({_SERVED} AND {_TRIED} = 1)",
    "failover": f"({_SERVED} AND {_TRIED} > 1)",
    "failed": f"(NOT {_SERVED} AND {_TRIED} > 0)",
    "refused": f"{_TRIED} = 0",
}
DECISION_OUTCOMES: tuple[str, ...] = tuple(_OUTCOME_SQL)


class DecisionLog:
    """Writes and reads of decisions, attempts and switches."""

    def __init__(self, store: Store, *, keep_prompts: bool = False) -> None:
        self._store = store
        self.keep_prompts = keep_prompts

    def record_job(
        self,
        decision: DecisionRecord,
        now: datetime,
        attempts: Sequence[AttemptRecord] = (),
        switch: SwitchRecord | None = None,
    ) -> Job[int]:
        """Write a decision with its attempts and the switch it made (if any); the job returns the decision id.
        With attempts or a switch it must run inside a transaction (`Store.write`); the switch gets the decision's
        id."""
        row = (
            to_ms(now),
            decision.task_summary,
            dumps_json(list(decision.candidates)),
            dumps_json(list(decision.exclusions)),
            dumps_json(dict(decision.scores)),
            decision.provider,
            decision.model,
            decision.account,
            decision.reason,
            decision.confidence,
            decision.task_type,
            decision.quality,
            decision.conversation_id,
            int(decision.dry_run),
            decision.prompt if self.keep_prompts else None,
        )

        def job(conn: Connection) -> int:
            decision_id: int = conn.execute(_SQL_INSERT_DECISION, row).fetchone()[0]
            if attempts:
                conn.executemany(_SQL_INSERT_ATTEMPT, [_attempt_row(decision_id, a) for a in attempts])
            if switch is not None:
                conn.execute(_SQL_INSERT_SWITCH, _switch_row(switch, now, decision_id))
            return decision_id

        return job

    async def record_switch(self, switch: SwitchRecord, now: datetime) -> int:
        """Audit a switch of provider (from, to, why, when); returns its id."""
        return await self._store.insert(_SQL_INSERT_SWITCH, _switch_row(switch, now, switch.decision_id))

    async def recent(
        self,
        limit: int = 20,
        *,
        conversation_id: str | None = None,
        provider: str | None = None,
        task_type: str | None = None,
        reason: str | None = None,
        outcome: str | None = None,
        member: str | None = None,
    ) -> list[LoggedDecision]:
        """The latest decisions, newest first, each with its attempts; each filter given narrows them (`outcome`:
        served, failover, failed or refused, as DECISION_OUTCOMES; `member`: one team member's)."""
        if outcome is not None and outcome not in _OUTCOME_SQL:
            raise ValueError(f"no outcome {outcome!r}; one of: {', '.join(_OUTCOME_SQL)}")
        filters = ((conversation_id, "conversation_id"), (provider, "provider"), (task_type, "task_type"),
                   (reason, "reason"), (member, "member"))  # fmt: skip
        where = " AND ".join(f"(? IS NULL OR {column} = ?)" for _, column in filters)
        params = [value for value, _ in filters for value in (value, value)]
        if outcome is not None:
            where += f" AND {_OUTCOME_SQL[outcome]}"

        def job(conn: Connection) -> list[LoggedDecision]:
            rows = conn.execute(
                f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE {where} ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
            decisions = [_decision(row) for row in rows]
            attempts = _attempts(conn, [d.id for d in decisions])
            return [LoggedDecision(d.id, d.created_at, d.record, attempts.get(d.id, ())) for d in decisions]

        return await self._store.read(job)

    async def get(self, decision_id: int, *, member: str | None = None) -> LoggedDecision | None:
        """One decision with its attempts, or None (also when `member` is given and it is not theirs)."""
        params = (decision_id, member, member)

        def job(conn: Connection) -> LoggedDecision | None:
            row = conn.execute(
                f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE id = ? AND (? IS NULL OR member = ?)", params
            ).fetchone()
            if row is None:
                return None
            found = _decision(row)
            attempts = _attempts(conn, [decision_id])
            return LoggedDecision(found.id, found.created_at, found.record, attempts.get(decision_id, ()))

        return await self._store.read(job)

    async def switches(self, limit: int = 20, *, conversation_id: str | None = None) -> list[LoggedSwitch]:
        """The latest switches, newest first."""
        rows = await self._store.fetchall(
            "SELECT id, created_at, reason, from_provider, from_model, to_provider, to_model, conversation_id, "
            "decision_id FROM switches WHERE (? IS NULL OR conversation_id = ?) ORDER BY id DESC LIMIT ?",
            (conversation_id, conversation_id, limit),
        )
        return [LoggedSwitch(row[0], from_ms(row[1]), SwitchRecord(*row[2:])) for row in rows]


def _switch_row(switch: SwitchRecord, now: datetime, decision_id: int | None) -> tuple[object, ...]:
    return (to_ms(now), switch.conversation_id, switch.from_provider, switch.from_model, switch.to_provider,
            switch.to_model, switch.reason, decision_id)  # fmt: skip


def _attempt_row(decision_id: int, a: AttemptRecord) -> tuple[object, ...]:
    if a.started_at is None:
        raise ValueError("an attempt is logged with the instant it started (AttemptRecord.started_at)")
    u = a.usage
    return (decision_id, a.provider, a.model, a.account, a.outcome, a.latency_ms, to_ms(a.started_at), a.error_class,
            u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens,
            round(a.cost_usd * NANO), int(a.estimated), a.ttft_ms)  # fmt: skip


def _decision(row: Any) -> LoggedDecision:
    (decision_id, created, summary, candidates, exclusions, scores, provider, model, account, reason, confidence,
     task_type, quality, conversation_id, dry_run, prompt) = row  # fmt: skip
    record = DecisionRecord(
        task_summary=summary,
        candidates=tuple(json.loads(candidates)),
        exclusions=tuple(json.loads(exclusions)),
        scores=json.loads(scores),
        provider=provider,
        model=model,
        account=account,
        reason=reason,
        confidence=confidence,
        task_type=task_type,
        quality=quality,
        conversation_id=conversation_id,
        dry_run=bool(dry_run),
        prompt=prompt,
    )
    return LoggedDecision(decision_id, from_ms(created), record)


def _attempts(conn: Connection, decision_ids: list[int]) -> dict[int, tuple[AttemptRecord, ...]]:
    if not decision_ids:
        return {}
    rows = conn.execute(
        f"SELECT {_ATTEMPT_COLUMNS} FROM attempts "
        "WHERE decision_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?)) ORDER BY id",
        (json.dumps(decision_ids),),
    )
    found: dict[int, list[AttemptRecord]] = {}
    for (decision_id, provider, model, account, outcome, latency, started, error_class, i_tok, o_tok, cr_tok, cw_tok,
         r_tok, cost, estimated, ttft) in rows:  # fmt: skip
        found.setdefault(decision_id, []).append(
            AttemptRecord(
                provider=provider,
                model=model,
                account=account,
                outcome=outcome,
                latency_ms=latency,
                started_at=from_ms(started),
                error_class=error_class,
                usage=Usage(
                    input_tokens=i_tok,
                    output_tokens=o_tok,
                    cache_read_tokens=cr_tok,
                    cache_write_tokens=cw_tok,
                    reasoning_tokens=r_tok,
                ),
                cost_usd=cost / NANO,
                estimated=bool(estimated),
                ttft_ms=ttft,
            )
        )
    return {key: tuple(value) for key, value in found.items()}
