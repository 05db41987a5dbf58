"""The bookkeeping port over the store: what a failed attempt changed, and a request's end (settlement, decision
log, conversation turn) as one unit of work, journaled when router.db's lock is held past its wait."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from providers.attempts import AttemptRecord
from routing.ports import (
    Change,
    CoolDown,
    DecisionLogEntry,
    Disable,
    Exhaust,
    Failed,
    Hold,
    Learn,
    Observe,
    PoolServed,
    Release,
    RetireModel,
    SavedTurn,
    Settle,
    Succeeded,
)
from server.wiring.identity import acting_as, current_member
from server.wiring.settlements import DRAIN_WAIT_MS, encode_unit, journal_of, settle_pending
from storage import (
    DecisionLog,
    DecisionRecord,
    Reservation,
    Store,
    StoreError,
    StoreLocked,
    SwitchRecord,
    Turn,
)
from storage.accounts import (
    cooldown_job,
    disable_job,
    exhausted_job,
    failure_job,
    learn_job,
    pool_served_job,
    retired_job,
    success_job,
)
from storage.connection import Connection
from storage.conversations import save_turn_job
from storage.db import Job
from storage.latency import observe_job
from storage.ledger import release_job, settle_job
from storage.team import attribute_decision_job

log = logging.getLogger(__name__)


def change_job(change: Change, now: datetime) -> Job[object]:
    """The storage job that writes one change an attempt left."""
    match change:
        case Settle(hold, usage, cost_usd):
            return settle_job(_reservation(hold), usage=usage, cost_usd=cost_usd, now=now)
        case Release(hold):
            return release_job(_reservation(hold), now=now)
        case CoolDown(account, model, until, reason):
            return cooldown_job(account, model, until, reason, now)
        case Exhaust(account, model, until, reason):
            return exhausted_job(account, model, until, reason, now)
        case Disable(account, reason):
            return disable_job(account, reason, now)
        case RetireModel(provider, model, reason):
            return retired_job(provider, model, reason, now)
        case Failed(account, model):
            return failure_job(account, model, now)
        case Succeeded(account, model):
            return success_job(account, model)
        case Learn(account, model, limits):
            return learn_job(account, model, limits, now)
        case PoolServed(pool, account):
            return pool_served_job(pool, account)
        case Observe(provider, model, account, ok, ttft_ms, tokens_per_s, task_type, output_tokens, max_speed):
            return observe_job(provider, model, account, ok=ok, ttft_ms=ttft_ms, tokens_per_s=tokens_per_s,
                               task_type=task_type, output_tokens=output_tokens, max_speed=max_speed,
                               now=now)  # fmt: skip


def _reservation(hold: Hold) -> Reservation:
    reservation: Reservation = hold.token
    return reservation


def _attempt_record(log: AttemptRecord) -> AttemptRecord:
    outcome = "error" if log.outcome == "skipped" else log.outcome
    return AttemptRecord(
        provider=log.provider,
        model=log.model,
        account=log.account,
        outcome=outcome,
        latency_ms=log.latency_ms,
        started_at=log.started_at,
        error_class=log.error_class if log.outcome != "skipped" else None,
        usage=log.usage,
        cost_usd=log.cost_usd,
        estimated=log.estimated,
        ttft_ms=log.ttft_ms,
    )


def decision_job(log: DecisionLog, entry: DecisionLogEntry, now: datetime) -> Job[int]:
    """The job that records a decision with its attempts and the switch it made."""
    decision = entry.decision
    record = DecisionRecord(
        task_summary=entry.task_summary,
        candidates=decision.get("ranked", []),
        exclusions=decision.get("excluded", []),
        scores={
            "explanation": list(decision.get("explanation", [])),
            "switch": decision.get("switch"),
            # refused by the ledger before any request was sent: not attempts, but part of the story
            "refused": [
                {"provider": a.provider, "model": a.model, "account": a.account, "detail": a.detail}
                for a in entry.attempts
                if a.outcome == "skipped"
            ],
        },
        provider=entry.provider,
        model=entry.model,
        account=entry.account,
        reason=entry.reason,
        confidence=entry.confidence,
        task_type=entry.task_type,
        quality=entry.quality,
        conversation_id=entry.conversation_id,
        dry_run=entry.dry_run,
        prompt=entry.prompt,
    )
    attempts = [_attempt_record(a) for a in entry.attempts if a.outcome != "skipped"]
    switch = None
    if entry.switch is not None:
        from_provider, from_model, to_provider, to_model, why = entry.switch
        switch = SwitchRecord(why, from_provider, from_model, to_provider, to_model, entry.conversation_id)
    recorded = log.record_job(record, now, attempts, switch)
    member = current_member()
    if member is None:
        return recorded

    def job(conn: Connection) -> int:
        decision_id = recorded(conn)
        attribute_decision_job(decision_id, member.name)(conn)
        return decision_id

    return job


def turn_job(turn: SavedTurn, now: datetime) -> Job[None]:
    """The job that saves a served turn (creating the conversation if it is new)."""
    saved = Turn(
        messages=turn.messages,
        provider=turn.provider,
        model=turn.model,
        tokens=turn.tokens,
        task_type=turn.task_type,
        history_tokens=turn.history_tokens,
        preferred=turn.preferred,
        restart=turn.restart,
        warm_account=turn.warm_account,
    )
    return save_turn_job(turn.conversation_id, saved, now)


def finish_job(
    decisions: DecisionLog,
    changes: Sequence[Change],
    entry: DecisionLogEntry,
    turn: SavedTurn | None,
    now: datetime,
) -> Job[int]:
    """The end of a request as one job: the changes, the decision with its attempts, the turn."""
    jobs = [change_job(change, now) for change in changes]
    record = decision_job(decisions, entry, now)
    save = turn_job(turn, now) if turn is not None else None

    def job(conn: Connection) -> int:
        for each in jobs:
            each(conn)
        decision_id = record(conn)
        if save is not None:
            save(conn)
        return decision_id

    return job


class StoreBookkeeping:
    """BookkeepingPort: what attempts change, the decision log and conversation turns, each call one transaction.

    A request's end that meets router.db locked past the busy timeout is kept in the journal beside it
    (server.wiring.settlements) and applied once the lock frees: the answer already served is never thrown away.
    """

    def __init__(self, store: Store, log: DecisionLog) -> None:
        self._store = store
        self._log = log
        #: the journal beside router.db (its path is fixed: found once, asked with one `stat` per request)
        self._journal = journal_of(store)

    async def apply(self, changes: Sequence[Change], now: datetime) -> None:
        jobs = [change_job(change, now) for change in changes]

        def job(conn: Connection) -> None:
            for each in jobs:
                each(conn)

        await self._store.quick_write(job)

    async def finish(
        self, changes: Sequence[Change], entry: DecisionLogEntry, turn: SavedTurn | None, now: datetime
    ) -> int | None:
        try:
            decision_id = await self._store.quick_write(finish_job(self._log, changes, entry, turn, now))
        except StoreLocked as error:
            journal = self._journal
            try:
                unit_id = await journal.append(encode_unit(changes, entry, turn, now))
            except OSError as unkept:
                log.error("router.db is locked and %s cannot be written either: %s", journal.path, unkept)
                raise error from unkept
            log.warning("router.db is locked: this request's bookkeeping (%s) waits in %s (%s)", unit_id,
                        journal.path, error)  # fmt: skip
            return None
        await self._settle_pending(now)
        return decision_id

    async def _settle_pending(self, now: datetime) -> None:
        """Apply what earlier requests (of any process) kept while router.db was locked: it is free now."""
        if not self._journal.waiting():
            return
        try:
            with acting_as(None):  # other requests' work, of other members: not this request's member's
                await settle_pending(self._store, self._log, finish_job, now, busy_timeout_ms=DRAIN_WAIT_MS)
        except (StoreError, OSError) as error:
            log.info("settlements kept beside router.db wait for the next try: %s", error)
