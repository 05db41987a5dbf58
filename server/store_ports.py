"""The router's ports over the SQLite store: storage's rows in, routing's values out."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from providers.models import TASK_TYPES, Account, ProviderConfig, QuotaSpec, TaskType
from providers.types import RateLimits, Usage
from routing.ports import (
    AttemptLog,
    ConversationRecord,
    DecisionLogEntry,
    Hold,
    Refusal,
    SavedTurn,
    Seed,
    StateView,
)
from routing.preferences import Preferences
from routing.tokens import message_tokens
from routing.types import CandidateState, ConversationState, ManualSwitch, QuotaWindow
from storage import (
    AccountStates,
    AttemptRecord,
    Conversations,
    DecisionLog,
    DecisionRecord,
    Health,
    Ledger,
    Refused,
    Reservation,
    StateSnapshot,
    SwitchRecord,
    Turn,
    Usages,
)
from storage.conversations import is_valid_id


def _later(*times: datetime | None, now: datetime) -> datetime | None:
    active = [t for t in times if t is not None and t > now]
    return max(active, default=None)


def quota_windows(quota: QuotaSpec, usage: Usages, health: Health, now: datetime) -> tuple[QuotaWindow, ...]:
    """What is left of each configured (or header-learned) limit of an account."""
    minute_reset = now + timedelta(minutes=1)
    rows: list[tuple[str, str, int | None, int, datetime | None]] = [
        ("requests", "minute", health.learned_requests_limit or quota.requests_per_minute, usage.minute.requests,
         minute_reset),
        ("tokens", "minute", health.learned_tokens_limit or quota.tokens_per_minute, usage.minute.tokens, minute_reset),
        ("requests", "day", quota.requests_per_day, usage.day.requests, usage.day_resets_at),
        ("tokens", "day", quota.tokens_per_day, usage.day.tokens, usage.day_resets_at),
        ("requests", "month", quota.requests_per_month, usage.month.requests, usage.month_resets_at),
        ("tokens", "month", quota.tokens_per_month, usage.month.tokens, usage.month_resets_at),
    ]  # fmt: skip
    return tuple(
        QuotaWindow(kind=kind, period=period, limit=limit, remaining=limit - used, resets_at=resets)
        for kind, period, limit, used, resets in rows
        if limit is not None
    )


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


class SqliteState:
    """StatePort: candidates with their runtime state, and the global pin, from one snapshot of the store."""

    def __init__(self, ledger: Ledger, states: AccountStates, preferences: Preferences) -> None:
        self._ledger = ledger
        self._states = states
        self.preferences = preferences

    async def view(self, seeds: Sequence[Seed], now: datetime) -> StateView:
        accounts = {seed.account.id: seed.account for seed in seeds}
        snapshot = await self._ledger.snapshot(accounts.values(), now)
        pin = snapshot.global_pin
        return StateView(
            candidates=[self._state(seed, snapshot, now) for seed in seeds],
            manual=ManualSwitch(provider=pin[0], model=pin[1]) if pin else None,
        )

    async def candidate_states(self, seeds: Sequence[Seed], now: datetime) -> list[CandidateState]:
        """Every seed with its runtime state (the candidates of `view`)."""
        return (await self.view(seeds, now)).candidates

    def _state(self, seed: Seed, snapshot: StateSnapshot, now: datetime) -> CandidateState:
        provider, account, model = seed.provider, seed.account, seed.model
        state = snapshot.accounts.get(account.id)
        cursor = pool_cursor(provider, snapshot.pool_cursors.get(provider.id)) if len(provider.accounts) > 1 else 0
        if state is None:
            return CandidateState(provider=provider.id, account=account.id, model=model, kind=provider.kind,
                                  pool=provider.load_balancing, pool_index=seed.pool_index,
                                  pool_size=len(provider.accounts), pool_cursor=cursor, has_key=seed.has_key,
                                  enabled=provider.enabled and account.enabled)  # fmt: skip
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
            cooldown_until=_later(whole.cooldown_until, mine.cooldown_until, now=now),
            exhausted_until=_later(whole.exhausted_until, mine.exhausted_until, now=now),
            breaker_open_until=_later(whole.breaker_open_until, mine.breaker_open_until, now=now),
            consecutive_failures=mine.consecutive_failures,
            windows=quota_windows(account.quota, state.usage, mine, now),
            budget_left_usd=budget_left(account, state.usage, self.preferences, snapshot.global_usage),
            latency_p50_ms=snapshot.latency_p50_ms.get((provider.id, model.id)),
        )

    async def next_in_pool(self, pool: str, eligible: Sequence[str]) -> str:
        return await self._states.next_in_pool(pool, eligible)

    async def pool_served(self, pool: str, account: str) -> None:
        await self._states.pool_served(pool, account)


class SqliteLedger:
    """LedgerPort over storage's Ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def reserve(
        self, account: Account, model: str, *, estimated_tokens: int, worst_case_cost_usd: float, now: datetime
    ) -> Hold | Refusal:
        granted = await self._ledger.reserve(
            account, model, estimated_tokens=estimated_tokens, worst_case_cost_usd=worst_case_cost_usd, now=now
        )
        if isinstance(granted, Refused):
            return Refusal(granted.limit, granted.scope, granted.resets_at, granted.detail)
        return Hold(granted)

    async def settle(self, hold: Hold, *, usage: Usage, cost_usd: float, now: datetime) -> None:
        reservation: Reservation = hold.token
        await self._ledger.settle(reservation, usage=usage, cost_usd=cost_usd, now=now)

    async def release(self, hold: Hold, *, now: datetime) -> None:
        reservation: Reservation = hold.token
        await self._ledger.release(reservation, now=now)


class SqliteHealth:
    """HealthPort over storage's AccountStates."""

    def __init__(self, states: AccountStates) -> None:
        self._states = states

    async def cool_down(self, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> None:
        await self._states.set_cooldown(account, model, until, reason, now)

    async def exhaust(self, account: str, model: str | None, until: datetime, reason: str, now: datetime) -> None:
        await self._states.set_exhausted(account, model, until, reason, now)

    async def disable(self, account: str, reason: str, now: datetime) -> None:
        await self._states.disable(account, reason, now)

    async def retire_model(self, provider: str, model: str, reason: str, now: datetime) -> None:
        await self._states.mark_model_retired(provider, model, reason, now)

    async def failed(self, account: str, model: str, now: datetime) -> None:
        await self._states.record_failure(account, model, now)

    async def succeeded(self, account: str, model: str) -> None:
        await self._states.record_success(account, model)

    async def learn(self, account: str, model: str, limits: RateLimits, now: datetime) -> None:
        await self._states.learn_limits(account, model, limits, now)


class SqliteConversations:
    """ConversationPort over storage's Conversations."""

    def __init__(self, conversations: Conversations) -> None:
        self._conversations = conversations

    async def load(self, conversation_id: str | None, now: datetime) -> ConversationRecord:
        found = await self._conversations.get(conversation_id) if conversation_id else None
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

    async def save_turn(self, record: ConversationRecord, turn: SavedTurn, now: datetime) -> None:
        await self._conversations.save_turn(
            record.state.id,
            Turn(
                messages=turn.messages,
                provider=turn.provider,
                model=turn.model,
                tokens=turn.tokens,
                task_type=turn.task_type,
                history_tokens=turn.history_tokens,
                preferred=turn.preferred,
                restart=turn.restart,
            ),
            now,
        )

    async def global_pin(self) -> ManualSwitch | None:
        pin = await self._conversations.global_pin()
        return ManualSwitch(provider=pin.provider, model=pin.model) if pin else None


def _task_type(value: str | None) -> TaskType | None:
    return next((task_type for task_type in TASK_TYPES if task_type == value), None)


def _attempt_record(log: AttemptLog) -> AttemptRecord:
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
    )


class SqliteDecisionLog:
    """DecisionLogPort over storage's DecisionLog."""

    def __init__(self, log: DecisionLog) -> None:
        self._log = log

    async def record(self, entry: DecisionLogEntry, now: datetime) -> int:
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
        return await self._log.record_decision(record, now, attempts, switch)
