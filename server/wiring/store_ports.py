"""The router's ports over the SQLite store: storage's rows in, routing's values out.

Each port call is one unit of work (`Store.quick_read/quick_write` of a job composed of storage's `*_job`
builders: on the event loop when router.db's lock is free, else one trip to the store's thread): the state view
with the conversation, a reservation (with the pool's cursor when it is the pool's turn), what a failed attempt
changed, and the end of a request.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from providers.attempts import AttemptRecord
from providers.models import TASK_TYPES, Account, ProviderConfig, QuotaSpec, TaskType
from routing.ports import (
    Change,
    Claim,
    ConversationRecord,
    CoolDown,
    DecisionLogEntry,
    Disable,
    Exhaust,
    Failed,
    Hold,
    Learn,
    Observe,
    PoolServed,
    Refusal,
    Release,
    RetireModel,
    SavedTurn,
    Seed,
    Settle,
    StateView,
    Succeeded,
)
from routing.preferences import Preferences
from routing.retirement import substitute
from routing.tokens import message_tokens
from routing.types import CandidateState, ConversationState, ManualSwitch, QuotaWindow, SpeedEstimate
from server.wiring.identity import acting_as, current_member
from server.wiring.settlements import DRAIN_WAIT_MS, encode_unit, journal_of, settle_pending
from storage import (
    Conversation,
    DecisionLog,
    DecisionRecord,
    Health,
    Ledger,
    Refused,
    Reservation,
    StateSnapshot,
    Store,
    StoreError,
    StoreLocked,
    SwitchRecord,
    Turn,
    Usages,
    WindowUsage,
)
from storage.accounts import (
    cooldown_job,
    disable_job,
    exhausted_job,
    failure_job,
    learn_job,
    next_in_pool_job,
    pool_served_job,
    retired_job,
    success_job,
)
from storage.connection import Connection
from storage.conversations import get_job, is_valid_id, save_turn_job
from storage.db import Job
from storage.latency import SpeedRow, Speeds, observe_job, read_speeds_job
from storage.ledger import release_job, settle_job
from storage.quota_check import to_nusd
from storage.team import Member, attribute_decision_job, attribute_job, member_check
from storage.windows import day_window, month_window

log = logging.getLogger(__name__)


def latest_active(*times: datetime | None, now: datetime) -> datetime | None:
    """The latest of `times` still in the future at `now` (None when none is)."""
    active = [t for t in times if t is not None and t > now]
    return max(active, default=None)


def quota_windows(
    quota: QuotaSpec, usage: Usages, health: Health, now: datetime, model_minute: WindowUsage | None = None
) -> tuple[QuotaWindow, ...]:
    """What is left of each configured (or header-learned) limit of an account.

    A learned limit is the model's own (`health` of the account+model): it is measured against the model's rolling
    minute (`model_minute`) when given, as the ledger does."""
    minute_reset = now + timedelta(minutes=1)
    learned = health.learned_at
    rows: list[tuple[str, str, int | None, int, datetime | None, datetime | None]] = [
        *(_minute_row(kind, mine, configured, usage.minute, model_minute, minute_reset, learned)
          for kind, mine, configured in (("requests", health.learned_requests_limit, quota.requests_per_minute),
                                         ("tokens", health.learned_tokens_limit, quota.tokens_per_minute))),
        ("requests", "day", quota.requests_per_day, usage.day.requests, usage.day_resets_at, None),
        ("tokens", "day", quota.tokens_per_day, usage.day.tokens, usage.day_resets_at, None),
        ("requests", "month", quota.requests_per_month, usage.month.requests, usage.month_resets_at, None),
        ("tokens", "month", quota.tokens_per_month, usage.month.tokens, usage.month_resets_at, None),
    ]  # fmt: skip
    return tuple(
        QuotaWindow(
            kind=kind,
            period=period,
            limit=limit,
            remaining=_left(limit - used, period, kind, health),
            resets_at=_header_reset(resets, period, kind, health),
            learned_at=taught,
        )
        for kind, period, limit, used, resets, taught in rows
        if limit is not None
    )


def _left(counted: int, period: str, kind: str, health: Health) -> int:
    """What is left of a window: the ledger's count, or less when the provider's headers said so (per minute)."""
    said = health.requests_left if kind == "requests" else health.tokens_left
    return counted if period != "minute" or said is None else min(counted, said)


def _header_reset(resets: datetime | None, period: str, kind: str, health: Health) -> datetime | None:
    until = health.requests_left_until if kind == "requests" else health.tokens_left_until
    return until if period == "minute" and until is not None else resets


def _minute_row(
    kind: str,
    learned: int | None,
    configured: int | None,
    account_minute: WindowUsage,
    model_minute: WindowUsage | None,
    resets: datetime,
    learned_at: datetime | None,
) -> tuple[str, str, int | None, int, datetime | None, datetime | None]:
    if learned is None:
        used = account_minute.requests if kind == "requests" else account_minute.tokens
        return kind, "minute", configured, used, resets, None
    minute = model_minute if model_minute is not None else account_minute
    used = minute.requests if kind == "requests" else minute.tokens
    return kind, "minute", learned, used, resets, learned_at


def budget_left(account: Account, usage: Usages, prefs: Preferences, global_usage: Usages) -> float | None:
    """The smallest USD budget left among the account's and the global daily/monthly caps (None: no cap)."""
    left = [
        cap - spent
        for cap, spent in (
            (account.budget.daily_usd, usage.day.cost_usd),
            (account.budget.monthly_usd, usage.month.cost_usd),
            (prefs.budget.daily_usd, global_usage.day.cost_usd),
            (prefs.budget.monthly_usd, global_usage.month.cost_usd),
        )
        if cap is not None
    ]
    return max(0.0, min(left)) if left else None


def pool_cursor(provider: ProviderConfig, last_account: str | None) -> int:
    """The pool index the round-robin cursor points to next: the one after the account chosen last."""
    ids = [account.id for account in provider.accounts]
    return (ids.index(last_account) + 1) % len(ids) if last_account in ids else 0


#: how long a latency estimate serves the views after the one that read it (by the injected clock): the estimate
#: moves slowly, and its rows cost more to read than the rest of the state
LATENCY_REFRESH = timedelta(seconds=10)


class SqliteState:
    """StatePort: candidates with their runtime state, the global pin and the conversation, in one read."""

    def __init__(self, store: Store, ledger: Ledger, preferences: Preferences) -> None:
        self._store = store
        self._ledger = ledger
        self.preferences = preferences
        self._latency: Mapping[tuple[str, str], float] = {}
        self._latency_at: datetime | None = None

    async def view(self, seeds: Sequence[Seed], conversation_id: str | None, now: datetime) -> StateView:
        accounts = {seed.account.id: seed.account for seed in seeds}
        read_latency = self._latency_at is None or not self._latency_at <= now < self._latency_at + LATENCY_REFRESH
        snapshot_job = self._ledger.snapshot_job(accounts.values(), now, latency=read_latency)
        wanted = conversation_id if conversation_id and is_valid_id(conversation_id) else None
        conversation_job = get_job(wanted) if wanted is not None else None
        speeds_job = read_speeds_job()

        def job(conn: Connection) -> tuple[StateSnapshot, Conversation | None, Speeds]:
            found = conversation_job(conn) if conversation_job is not None else None
            return snapshot_job(conn), found, speeds_job(conn)

        snapshot, found, speeds = await self._store.quick_read(job)
        if read_latency:
            self._latency, self._latency_at = snapshot.latency_p50_ms, now
        pin = snapshot.global_pin
        # a retired model's seeds carry its successor, decided on the request's own day
        routed = substitute(seeds, snapshot.retired, now.date())
        warm = found.warm if found is not None and found.warm is not None and found.warm[2] > now else None
        return StateView(
            candidates=[self._state(seed, snapshot, now, warm, speeds) for seed in routed],
            conversation=_record(conversation_id, found),
            manual=ManualSwitch(provider=pin[0], model=pin[1]) if pin else None,
            expected_output=speeds.output_tokens,
        )

    def _state(
        self,
        seed: Seed,
        snapshot: StateSnapshot,
        now: datetime,
        warm: tuple[str, str, datetime] | None = None,
        speeds: Speeds | None = None,
    ) -> CandidateState:
        """One candidate's state; `warm` is the (account, model) holding the conversation's prompt prefix, `speeds`
        the measured speeds (built in, not copied in afterwards: one validation per candidate)."""
        provider, account, model = seed.provider, seed.account, seed.model
        is_warm = warm is not None and warm[0] == account.id and warm[1] == model.id
        speed = _speed(provider.id, model.id, account.id, speeds) if speeds is not None else None
        state = snapshot.accounts.get(account.id)
        cursor = pool_cursor(provider, snapshot.pool_cursors.get(provider.id)) if len(provider.accounts) > 1 else 0
        if state is None:
            return CandidateState(provider=provider.id, account=account.id, model=model, kind=provider.kind,
                                  pool=provider.load_balancing, pool_index=seed.pool_index,
                                  pool_size=len(provider.accounts), pool_cursor=cursor, has_key=seed.has_key,
                                  enabled=provider.enabled and account.enabled,
                                  model_retired=(provider.id, model.id) in snapshot.retired,
                                  substituted_for=seed.substituted_for,
                                  retirement_note=seed.retirement_note, warm=is_warm, speed=speed)  # fmt: skip
        per_model = state.model(model.id)
        whole, mine = state.health, per_model.health
        disabled = state.disabled_reason
        return CandidateState(
            provider=provider.id,
            account=account.id,
            model=model,
            kind=provider.kind,
            pool=provider.load_balancing,
            pool_index=seed.pool_index,
            pool_size=len(provider.accounts),
            pool_cursor=cursor,
            has_key=seed.has_key,
            enabled=provider.enabled and account.enabled and disabled is None,
            disabled_reason=disabled,
            model_retired=(provider.id, model.id) in snapshot.retired,
            substituted_for=seed.substituted_for,
            retirement_note=seed.retirement_note,
            cooldown_until=latest_active(whole.cooldown_until, mine.cooldown_until, now=now),
            cooldown_reason=_cooldown_reason(whole, mine, now),
            exhausted_until=latest_active(whole.exhausted_until, mine.exhausted_until, now=now),
            breaker_open_until=latest_active(whole.breaker_open_until, mine.breaker_open_until, now=now),
            consecutive_failures=mine.consecutive_failures,
            windows=quota_windows(account.quota, state.usage, mine, now, per_model.usage.minute),
            budget_left_usd=budget_left(account, state.usage, self.preferences, snapshot.global_usage),
            latency_p50_ms=self._latency.get((provider.id, model.id)),
            warm=is_warm,
            speed=speed,
        )


def speed_estimate(row: SpeedRow, last_seq: int) -> SpeedEstimate:
    """A stored speed row as routing reads it."""
    return SpeedEstimate(
        samples=row.samples,
        ttft_ms=row.ttft_ewma_ms,
        ttft_p50_ms=row.ttft_p50_ms,
        ttft_p95_ms=row.ttft_p95_ms,
        tokens_per_s=row.tokens_per_s,
        last_ttft_ms=row.last_ttft_ms,
        last_tokens_per_s=row.last_tokens_per_s,
        failure_ratio=min(1.0, max(0.0, row.failure_ratio)),
        unobserved_for=max(0, last_seq - row.seq),
    )


def _speed(provider: str, model: str, account: str, speeds: Speeds) -> SpeedEstimate | None:
    row = speeds.rows.get((provider, model, account))
    if row is None:
        return None
    return speed_estimate(row, speeds.last_seq.get((provider, model), row.seq))


def _cooldown_reason(whole: Health, mine: Health, now: datetime) -> str | None:
    """The reason of whichever cooldown in force lasts longer: the account's or the model's."""
    active = [h for h in (whole, mine) if h.cooldown_until is not None and h.cooldown_until > now]
    latest = max(active, key=lambda h: h.cooldown_until or now, default=None)
    return latest.cooldown_reason if latest is not None else None


def _record(conversation_id: str | None, found: Conversation | None) -> ConversationRecord:
    """The conversation as routing sees it (a new, unsaved one with a fresh id when it was not found)."""
    if found is None:
        new_id = conversation_id if conversation_id and is_valid_id(conversation_id) else uuid.uuid4().hex
        return ConversationRecord(ConversationState(id=new_id), (), exists=False)
    pin = found.pinned
    history = found.history_tokens
    state = ConversationState(
        id=found.id,
        current_provider=found.current_provider,
        current_model=found.current_model,
        preferred_provider=found.preferred_provider,
        preferred_model=found.preferred_model,
        # counted once when the router saved the turn; a history written by other means is counted here
        history_tokens=history if history is not None else message_tokens(found.messages),
        last_task_type=_task_type(found.last_task_type),
        pin=ManualSwitch(provider=pin.provider, model=pin.model, conversation_id=found.id) if pin else None,
    )
    return ConversationRecord(state, found.messages, exists=True)


def _task_type(value: str | None) -> TaskType | None:
    return next((task_type for task_type in TASK_TYPES if task_type == value), None)


class SqliteLedger:
    """LedgerPort over storage's Ledger (and the pool cursors of AccountStates)."""

    def __init__(self, store: Store, ledger: Ledger) -> None:
        self._store = store
        self._ledger = ledger

    def _reserve_job(self, claim: Claim, now: datetime) -> Job[Reservation | Refused]:
        job = self._ledger.reserve_job(
            claim.account,
            claim.model,
            estimated_tokens=claim.estimated_tokens,
            worst_case_cost_usd=claim.worst_case_cost_usd,
            now=now,
        )
        return member_reserve_job(job, current_member(), claim.worst_case_cost_usd, self._ledger.timezone, now)

    async def reserve(self, claim: Claim, now: datetime) -> Hold | Refusal:
        return _hold(await self._store.quick_write(self._reserve_job(claim, now)))

    async def reserve_turn(self, pool: str, claims: Sequence[Claim], now: datetime) -> tuple[int, Hold | Refusal]:
        order = [claim.account.id for claim in claims]
        turn_job = next_in_pool_job(pool, order)
        reserve_jobs = [self._reserve_job(claim, now) for claim in claims]

        def job(conn: Connection) -> tuple[int, Reservation | Refused]:
            index = order.index(turn_job(conn))
            return index, reserve_jobs[index](conn)

        index, granted = await self._store.quick_write(job)
        return index, _hold(granted)


def member_reserve_job(
    reserve: Job[Reservation | Refused], member: Member | None, worst_case_cost_usd: float, timezone: str, now: datetime
) -> Job[Reservation | Refused]:
    """`reserve` within the member's own caps too (team mode): in the same transaction, the member's check first,
    then the ledger's; the reservation made is attributed to the member. Without a member, `reserve` itself."""
    if member is None:
        return reserve
    day, month = day_window(now, timezone), month_window(now, timezone)
    cost_nusd = to_nusd(worst_case_cost_usd)

    def job(conn: Connection) -> Reservation | Refused:
        refusal = member_check(conn, member, cost_nusd, day, month, now)
        if refusal is not None:
            return refusal
        granted = reserve(conn)
        if isinstance(granted, Reservation):
            attribute_job(granted.id, member.name)(conn)
        return granted

    return job


def _hold(granted: Reservation | Refused) -> Hold | Refusal:
    if isinstance(granted, Refused):
        return Refusal(granted.limit, granted.scope, granted.resets_at, granted.detail)
    return Hold(granted)


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
        case Observe(provider, model, account, ok, ttft_ms, tokens_per_s, task_type, output_tokens):
            return observe_job(provider, model, account, ok=ok, ttft_ms=ttft_ms, tokens_per_s=tokens_per_s,
                               task_type=task_type, output_tokens=output_tokens, now=now)  # fmt: skip


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


class SqliteBookkeeping:
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
