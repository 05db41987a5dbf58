"""The router's ports over the store (SQLite or PostgreSQL): storage's rows in, routing's values out.

Each port call is one unit of work (`Store.quick_read/quick_write` of a job composed of storage's `*_job`
builders: on the event loop when router.db's lock is free, else one trip to the store's thread): the state view
with the conversation, and a reservation (with the pool's cursor when it is the pool's turn). What a failed
attempt changed and the end of a request: bookkeeping_port.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from providers.models import TASK_TYPES, TaskType
from routing.ports import (
    Claim,
    ConversationRecord,
    Hold,
    Refusal,
    Seed,
    StateView,
)
from routing.preferences import Preferences
from routing.retirement import substitute
from routing.tokens import message_tokens
from routing.types import CandidateState, ConversationState, ManualSwitch, SpeedEstimate
from server.wiring.identity import current_member
from server.wiring.quota_rows import budget_left, latest_active, pool_cursor, quota_windows
from storage import (
    Conversation,
    Health,
    Ledger,
    Refused,
    Reservation,
    StateSnapshot,
    Store,
)
from storage.accounts import (
    next_in_pool_job,
)
from storage.connection import Connection
from storage.conversations import get_job, is_valid_id
from storage.db import Job
from storage.latency import SpeedRow, Speeds, read_speeds_job
from storage.quota_check import to_nusd
from storage.team import Member, attribute_job, member_check
from storage.windows import day_window, month_window

log = logging.getLogger(__name__)


LATENCY_REFRESH = timedelta(seconds=10)
#: beyond the request timeout, how long a reservation still marks a call in flight (it is made just before the call)
IN_FLIGHT_MARGIN = timedelta(seconds=5)


class StoreState:
    """StatePort: candidates with their runtime state, the global pin and the conversation, in one read."""

    def __init__(
        self, store: Store, ledger: Ledger, preferences: Preferences, *, request_timeout_s: float = 60.0
    ) -> None:
        self._store = store
        self._ledger = ledger
        self.preferences = preferences
        #: no attempt outlives the request timeout: an older reservation is a crashed process's, not a call running
        self._in_flight_for = timedelta(seconds=request_timeout_s) + IN_FLIGHT_MARGIN
        self._latency: Mapping[tuple[str, str], float] = {}
        self._latency_at: datetime | None = None

    async def view(self, seeds: Sequence[Seed], conversation_id: str | None, now: datetime) -> StateView:
        accounts = {seed.account.id: seed.account for seed in seeds}
        read_latency = self._latency_at is None or not self._latency_at <= now < self._latency_at + LATENCY_REFRESH
        snapshot_job = self._ledger.snapshot_job(
            accounts.values(), now, latency=read_latency, in_flight_for=self._in_flight_for
        )
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
        in_flight = (account.id, model.id) in snapshot.in_flight
        state = snapshot.accounts.get(account.id)
        cursor = pool_cursor(provider, snapshot.pool_cursors.get(provider.id)) if len(provider.accounts) > 1 else 0
        if state is None:
            return CandidateState(provider=provider.id, account=account.id, model=model, kind=provider.kind,
                                  pool=provider.load_balancing, pool_index=seed.pool_index,
                                  pool_size=len(provider.accounts), pool_cursor=cursor, has_key=seed.has_key,
                                  enabled=provider.enabled and account.enabled,
                                  model_retired=(provider.id, model.id) in snapshot.retired,
                                  substituted_for=seed.substituted_for,
                                  retirement_note=seed.retirement_note, warm=is_warm, speed=speed,
                                  in_flight=in_flight)  # fmt: skip
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
            in_flight=in_flight,
        )


def speed_estimate(row: SpeedRow, speeds: Speeds) -> SpeedEstimate:
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
        unobserved_for=max(0, speeds.last_seq.get((row.provider, row.model), row.seq) - row.seq),
        stale_in_store=speeds.stale_in_store(row),
    )


def _speed(provider: str, model: str, account: str, speeds: Speeds) -> SpeedEstimate | None:
    row = speeds.rows.get((provider, model, account))
    return speed_estimate(row, speeds) if row is not None else None


def _cooldown_reason(whole: Health, mine: Health, now: datetime) -> str | None:
    """The reason of whichever cooldown in force lasts longer: the account's or the model's."""
    if whole.cooldown_until is None and mine.cooldown_until is None:
        return None
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


class StoreLedger:
    """LedgerPort over storage's Ledger (and the pool cursors of AccountStates)."""

    def __init__(self, store: Store, ledger: Ledger) -> None:
        self._store = store
        self._ledger = ledger

    def _reserve_job(self, claim: Claim, now: datetime, member: Member | None) -> Job[Reservation | Refused]:
        job = self._ledger.reserve_job(
            claim.account,
            claim.model,
            estimated_tokens=claim.estimated_tokens,
            worst_case_cost_usd=claim.worst_case_cost_usd,
            now=now,
        )
        return member_reserve_job(job, member, claim.worst_case_cost_usd, self._ledger.timezone, now)

    async def reserve(self, claim: Claim, now: datetime) -> Hold | Refusal:
        return _hold(await self._store.quick_write(self._reserve_job(claim, now, current_member())))

    async def reserve_turn(self, pool: str, claims: Sequence[Claim], now: datetime) -> tuple[int, Hold | Refusal]:
        order = [claim.account.id for claim in claims]
        turn_job = next_in_pool_job(pool, order)
        # read here: the job may run on the store's thread, where the request's context is not current
        member = current_member()

        def job(conn: Connection) -> tuple[int, Reservation | Refused]:
            index = order.index(turn_job(conn))
            # only the account whose turn it is gets a reservation job built (a pool's others never run theirs)
            return index, self._reserve_job(claims[index], now, member)(conn)

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
