"""The failover loop of one request: reserve -> call (streamed, under a timeout) -> settle -> act on the error.

Rules (README "8. At call time" and "Errors, budgets and shared state"):
- every attempt holds a reservation; it is settled with the real usage, settled empty when the provider counted a
  failed request, or released when the request never reached it — also when the caller goes away mid-call;
- after a failure, the candidates it rules out are skipped without a call: the whole account after an account-wide
  cooldown, exhaustion or auth failure, the model on every account after a 404, every window not larger after a
  context-too-long; another provider only when autoSwitch (or, after a limit, switchOnLimit) allows;
- a failing candidate is not retried while another remains; only the last remaining one may be, once, after
  waiting out the provider's Retry-After when that fits MAX_IN_REQUEST_WAIT_S and the request's deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import anyio

from providers.attempts import AttemptOutcome, AttemptRecord
from providers.errors import InvalidOutput, ProviderError, ProviderHTTPError
from providers.models import Account, ModelProfile, ProviderConfig
from providers.ratelimits import learnable
from providers.types import Message, Usage
from routing.call_request import chat_request, timed_out, unexpected_error
from routing.cost import is_free_tier, usage_cost_usd
from routing.failover import MAX_IN_REQUEST_WAIT_S, Action, action_for
from routing.header_news import header_news
from routing.hedge import Leg, backup_for, hedge_delay_s, race
from routing.outcome import Outcome, Served
from routing.ports import (
    Change,
    Claim,
    ConversationRecord,
    CoolDown,
    Disable,
    Exhaust,
    Failed,
    Hold,
    Learn,
    Observe,
    PoolServed,
    Ports,
    Refusal,
    Release,
    RetireModel,
    Settle,
    Succeeded,
)
from routing.request import RouteRequest, RouterSetup
from routing.settlement import ESTIMATED_DETAIL, estimated_usage
from routing.streaming import Progress, Timed, stream_completion
from routing.structured import after_invalid_output, failed_settlement, structured_answer
from routing.types import CandidateState, Decision, RankedCandidate, Task

if TYPE_CHECKING:
    from datetime import datetime


log = logging.getLogger(__name__)

NO_USAGE = Usage()
#: a retry is not worth starting with less than this much of the deadline left after the wait
MIN_ATTEMPT_S = 1.0

#: waits out a Retry-After (anyio.sleep; tests inject one that moves their clock instead)
Wait = Callable[[float], Awaitable[None]]
StateKey = tuple[str, str, str]  # (provider, account, model)


def state_key(candidate: RankedCandidate) -> StateKey:
    return candidate.provider, candidate.account, candidate.model


@dataclass
class AttemptRunner:
    setup: RouterSetup
    ports: Ports
    clock: Callable[[], datetime]
    task: Task
    decision: Decision
    record: ConversationRecord
    request: RouteRequest
    progress: Progress | None
    states: Mapping[StateKey, CandidateState]
    wait: Wait
    #: anyio.current_time() at which the request's overall deadline passes
    deadline: float
    outcome: Outcome = field(default_factory=Outcome)
    _blocked_accounts: set[str] = field(default_factory=set[str])
    _retired: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])
    _failed_here: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])
    _skip_windows_up_to: int = 0
    #: (provider, model) -> the account the shared round-robin cursor chose for that pool
    _pool_choice: dict[tuple[str, str], str] = field(default_factory=dict[tuple[str, str], str])
    #: what a pool's turn already reserved (with the cursor, in one trip) for the candidate it chose
    _reserved: dict[StateKey, Hold | Refusal] = field(default_factory=dict[StateKey, Hold | Refusal])
    #: the reservation of the attempt under way, until what it leaves to write names it
    _open: Hold | None = None
    #: candidates already tried as a hedge's second leg
    _raced: set[StateKey] = field(default_factory=set[StateKey])

    def abandon(self) -> Outcome:
        """The outcome so far after an unexpected failure of the loop itself: the open reservation is released."""
        if self._open is not None:
            self.outcome.changes.append(Release(self._open))
            self._open = None
        for hold in self._reserved.values():
            if isinstance(hold, Hold):
                self.outcome.changes.append(Release(hold))
        self._reserved.clear()
        return self.outcome

    async def run(self, ranked: Sequence[RankedCandidate]) -> Outcome:
        """Try the candidates in order until one serves, the request must stop, or none is left."""
        queue = list(ranked)
        after_limit: bool | None = None
        index = 0
        while index < len(queue):
            if index == 0 or _group(queue[index]) != _group(queue[index - 1]):
                queue[index:] = await self._rotated(queue[index:], after_limit)
            candidate = queue[index]
            index += 1
            if not self._eligible(candidate, after_limit):
                continue
            if after_limit is None and self._hedging():
                action = await self._hedged(candidate, queue[index:])
            else:
                action = await self._attempt(candidate, queue[index:])
            if action is None:
                return self.outcome
            if action.stop:
                break
            after_limit = action.is_limit
        return self.outcome

    def _hedging(self) -> bool:
        asked = self.request.hedge
        return self.setup.preferences.hedge if asked is None else asked

    async def _hedged(self, candidate: RankedCandidate, rest: Sequence[RankedCandidate]) -> Action | None:
        """The first attempt, raced against the next candidate when its first token is late (routing.hedge)."""
        delay = hedge_delay_s(candidate)
        backup = backup_for(candidate, rest, self.decision, lambda c: self._eligible(c, None)) if delay else None
        if delay is None or backup is None:
            return await self._attempt(candidate, rest)

        async def run_leg(leg: Leg) -> Action | None:
            if leg.candidate is backup:
                self._raced.add(state_key(backup))  # tried now: not again down the list
            profile, provider, account = self._lookup(leg.candidate)
            return await self._try_once(leg.candidate, provider, account, profile, leg)

        return await race(run_leg, candidate, backup, delay)

    def _eligible(self, candidate: RankedCandidate, after_limit: bool | None) -> bool:
        """Whether `candidate` may still be tried after what failed so far (and how: a limit or an error)."""
        if state_key(candidate) in self._raced:
            return False
        if after_limit is not None and not self.decision.may_try(candidate, after_limit):
            return False
        if candidate.account in self._blocked_accounts or (candidate.provider, candidate.model) in self._retired:
            return False
        return self._lookup(candidate)[0].context_window > self._skip_windows_up_to

    async def _rotated(self, rest: list[RankedCandidate], after_limit: bool | None) -> list[RankedCandidate]:
        """The accounts of the pool at the head of `rest`, starting where the shared round-robin cursor points.

        The cursor advances only when the pool is reached (a pool only failed over to keeps its turn otherwise),
        and in the same transaction as the reservation for the account it chose.
        """
        key = _group(rest[0])
        size = next((i for i, r in enumerate(rest) if _group(r) != key), len(rest))
        group = rest[:size]
        provider = self.setup.providers.get(rest[0].provider)
        if size < 2 or provider is None or provider.load_balancing != "round_robin" or group[0].pool_note:
            return rest  # a pool_note: decide() put an account first for its quota outlook or warm cache
        if self.decision.quality == "max_speed" or any(r.probe for r in group):
            return rest  # the measured speed orders this pool (routing.latency)
        by_id = {r.account: r for r in group}
        order = [a.id for a in provider.accounts if a.id in by_id and not by_id[a.id].deranked]
        last = [r for r in group if r.deranked]
        eligible = [by_id[account] for account in order if self._eligible(by_id[account], after_limit)]
        if not eligible:
            return rest
        claims = [self._claim(candidate) for candidate in eligible]
        index, reserved = await self.ports.ledger.reserve_turn(provider.id, claims, self.clock())
        start = eligible[index]
        self._pool_choice[key] = start.account
        self._reserved[state_key(start)] = reserved
        at = order.index(start.account)
        return [by_id[account] for account in order[at:] + order[:at]] + last + rest[size:]

    def _claim(self, candidate: RankedCandidate) -> Claim:
        account = self._lookup(candidate)[2]
        tokens = candidate.input_tokens + candidate.output_tokens
        return Claim(account, candidate.model, tokens, candidate.estimated_cost_usd)

    def _lookup(self, candidate: RankedCandidate) -> tuple[ModelProfile, ProviderConfig, Account]:
        provider = self.setup.providers[candidate.provider]
        account = next(a for a in provider.accounts if a.id == candidate.account)
        model = provider.models.get(candidate.model)
        if model is None:  # a retired model's successor, routed in its place (routing.retirement)
            model = self.states[state_key(candidate)].model
        return model, provider, account

    async def _attempt(self, candidate: RankedCandidate, rest: Sequence[RankedCandidate]) -> Action | None:
        """One try, and for the last remaining candidate one wait-and-retry; None when it served the request."""
        profile, provider, account = self._lookup(candidate)
        action = await self._try_once(candidate, provider, account, profile)
        if action is None or action.retry_after_s is None:
            return action
        if any(self._eligible(c, action.is_limit) for c in rest) or not self._worth_waiting(action.retry_after_s):
            return action
        await self.wait(action.retry_after_s)
        return await self._try_once(candidate, provider, account, profile)

    def _worth_waiting(self, seconds: float) -> bool:
        if seconds > MAX_IN_REQUEST_WAIT_S:
            return False
        return anyio.current_time() + seconds + MIN_ATTEMPT_S <= self.deadline

    async def _try_once(
        self,
        candidate: RankedCandidate,
        provider: ProviderConfig,
        account: Account,
        profile: ModelProfile,
        leg: Leg | None = None,
    ) -> Action | None:
        now = self.clock()
        reserved = self._reserved.pop(state_key(candidate), None)
        chat = chat_request(
            candidate, provider, profile, task=self.task, request=self.request, record=self.record,
            preserve_context=self.setup.preferences.preserve_context,
        )  # fmt: skip
        if chat is None:
            if isinstance(reserved, Hold):
                await self.ports.bookkeeping.apply([Release(reserved)], now)
            detail = f"the conversation's history does not fit {profile.id}'s window of {profile.context_window}"
            self._record(candidate, "skipped", 0.0, now, detail=detail)
            return Action(skip_windows_up_to=profile.context_window, counted=False, reason=detail)
        hold = reserved if reserved is not None else await self.ports.ledger.reserve(self._claim(candidate), now)
        if isinstance(hold, Refusal):
            self._record(candidate, "skipped", 0.0, now, detail=f"{hold.limit} ({hold.scope}): {hold.detail}")
            self.outcome.note_retry_at(hold.resets_at)
            return Action(is_limit=True, counted=False)
        self._open = hold
        started = anyio.current_time()
        error: ProviderError
        try:
            adapter = self.ports.connect(provider, account, await self.ports.keys.get(account))
            with anyio.fail_after(self.setup.request_timeout_s):
                first = leg.first_token if leg is not None else None
                timed = await stream_completion(adapter, chat, candidate, self.progress, self.clock, first)
            if self.request.json_schema is not None:
                answer = structured_answer(timed.completion, self.request.json_schema, candidate)
                timed = replace(timed, completion=answer)
            self._served(candidate, account, profile, hold, timed, started, now)
            return None
        except TimeoutError as timeout:
            error = timed_out(candidate, self.setup.request_timeout_s, timeout)
        except ProviderError as provider_error:
            error = provider_error
        except anyio.get_cancelled_exc_class():
            # the caller went away (or the deadline passed, or a hedge's other leg won): the upstream request is
            # cancelled with us; a hedge's loser was sent, so it is billed at its input (routing.hedge)
            lost = leg.lost_to if leg is not None else None
            change = lost_leg_settlement(candidate, hold, profile) if lost is not None else Release(hold)
            with anyio.CancelScope(shield=True):
                await self.ports.bookkeeping.apply([change], self.clock())
            self._open = None
            why = f"hedged: {lost.label} streamed first" if lost is not None else None
            self._record(candidate, "cancelled", _ms_since(started), now, detail=why)
            raise
        except Exception as unexpected:
            # an adapter (or this loop) failed in a way nobody foresaw: a failed attempt like any other, never lost
            error = unexpected_error(candidate, unexpected)
        with anyio.CancelScope(shield=True):
            action = await self._failed(candidate, account, profile, hold, error, started, now)
        return action

    def _served(
        self,
        candidate: RankedCandidate,
        account: Account,
        profile: ModelProfile,
        hold: Hold,
        timed: Timed,
        started: float,
        now: datetime,
    ) -> None:
        """Note the answer and what it leaves to write (written with the decision, in the request's last trip).

        A reply without usage to believe is settled at the estimate (never at zero: that would bypass budgets)."""
        latency = _ms_since(started)
        completion = timed.completion
        if completion.usage_missing:
            usage = estimated_usage(completion, candidate, self.setup.providers[candidate.provider].catalog)
            completion = completion.model_copy(update={"usage": usage})
        free = candidate.estimated_cost_usd == 0 and is_free_tier(profile, None)
        cost = usage_cost_usd(completion.usage, profile, free=free, reported=completion.reported_cost_usd)
        changes: list[Change] = [Settle(hold, completion.usage, cost)]
        # a probe is observed even without a sample (an answer of tool calls only): it was sent, so it is not due
        # again at once; the estimate stays as it was
        if timed.ttft_ms is not None or candidate.probe:
            changes.append(self._observe(candidate, True, timed, completion.usage.output_tokens))
        state = self.states.get(state_key(candidate))
        if _had_failures(state) or (account.id, profile.id) in self._failed_here:
            changes.append(Succeeded(account.id, profile.id))
        limits = learnable(completion.rate_limits)
        if not limits.is_empty and header_news(limits, state, now):
            changes.append(Learn(account.id, profile.id, limits))
        chosen_in_pool = self._pool_choice.get(_group(candidate))
        if chosen_in_pool is not None and chosen_in_pool != account.id:
            changes.append(PoolServed(candidate.provider, account.id))
        self.outcome.changes.extend(changes)
        self._open = None
        estimated = completion.usage_missing
        detail = ESTIMATED_DETAIL if estimated else None
        self._record(
            candidate, "success", latency, now, usage=completion.usage, cost=cost, detail=detail, estimated=estimated,
            ttft_ms=timed.ttft_ms,
        )  # fmt: skip
        reply = Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls)
        self.outcome.served = Served(candidate, completion, cost, reply, self._preferred(candidate))

    def _preferred(self, served: RankedCandidate) -> tuple[str, str] | None:
        """Where the conversation belongs after this turn: what the policy chose for a new conversation, the target
        of a lasting switch; a failover (temporary) leaves it where it was, so the conversation comes back."""
        chosen = self.decision.chosen
        switch = self.decision.switch
        if not self.record.exists:
            target = chosen if chosen is not None else served
            return target.provider, target.model
        if switch is not None and not switch.temporary:
            return switch.to_provider, switch.to_model
        return None

    async def _failed(
        self,
        candidate: RankedCandidate,
        account: Account,
        profile: ModelProfile,
        hold: Hold,
        error: ProviderError,
        started: float,
        now: datetime,
    ) -> Action:
        latency = _ms_since(started)
        failed_at = self.clock()
        action = action_for(
            error, now=failed_at, timezone=account.quota.timezone, context_window=profile.context_window
        )
        if isinstance(error, InvalidOutput):
            self.outcome.invalid = error
            action = after_invalid_output(action, self.outcome.attempts)
        # a provider that answered has usually counted the request; one that was never reached has not
        changes: list[Change] = [failed_settlement(hold, error, profile) if action.counted else Release(hold)]
        changes.extend(self._apply(action, account, profile))
        if action.breaker:  # a failure of the provider (not a limit): counts in the recent failure ratio
            changes.append(self._observe(candidate, False))
        limits = learnable(error.limits) if isinstance(error, ProviderHTTPError) and error.limits is not None else None
        if (
            limits is not None
            and not limits.is_empty
            and header_news(limits, self.states.get(state_key(candidate)), now)
        ):
            changes.append(Learn(account.id, profile.id, limits))
        # recorded first: should the write fail, the decision still logs this attempt (and the hold is released)
        self._record(candidate, "error", latency, now, error=error)
        try:
            await self.ports.bookkeeping.apply(changes, failed_at)
        except Exception:
            # the ledger is busy (or failing): the next candidate may still serve; these changes travel with the
            # request's end instead, which keeps them (journaled if the lock persists) and releases the hold
            log.warning("the failed attempt's bookkeeping waits for the request's end", exc_info=True)
            self.outcome.changes.extend(changes)
        self._open = None
        if action.stop:
            self.outcome.stop = error
        return action

    def _apply(self, action: Action, account: Account, profile: ModelProfile) -> list[Change]:
        """What `action` changes in the shared state; notes what this request may no longer try."""
        model = None if action.scope == "account" else profile.id
        changes: list[Change] = []
        if action.exhausted_until is not None:
            changes.append(Exhaust(account.id, model, action.exhausted_until, action.reason))
            self.outcome.note_retry_at(action.exhausted_until)
        if action.cooldown_until is not None:
            changes.append(CoolDown(account.id, model, action.cooldown_until, action.reason))
            self.outcome.note_retry_at(action.cooldown_until)
        if action.disable_account:
            changes.append(Disable(account.id, action.reason))
            self.ports.keys.forget(account.id)
        if action.retire_model:
            changes.append(RetireModel(account.provider, profile.id, action.reason))
            self._retired.add((account.provider, profile.id))
        if action.breaker:
            changes.append(Failed(account.id, profile.id))
            self._failed_here.add((account.id, profile.id))
        if model is None:
            self._blocked_accounts.add(account.id)
        if action.skip_windows_up_to is not None:
            self._skip_windows_up_to = max(self._skip_windows_up_to, action.skip_windows_up_to)
        return changes

    def _observe(self, candidate: RankedCandidate, ok: bool, timed: Timed | None = None, output: int = 0) -> Observe:
        """The attempt's speed (or failure) for the shared figures (routing.latency predicts from them)."""
        return Observe(
            candidate.provider,
            candidate.model,
            candidate.account,
            ok,
            timed.ttft_ms if timed is not None else None,
            timed.tokens_per_s if timed is not None else None,
            self.task.task_type,
            output,
            self.decision.quality == "max_speed",
        )

    def _record(
        self,
        candidate: RankedCandidate,
        outcome: AttemptOutcome,
        latency_ms: float,
        started_at: datetime,
        *,
        error: ProviderError | None = None,
        detail: str | None = None,
        usage: Usage = NO_USAGE,
        cost: float = 0.0,
        estimated: bool = False,
        ttft_ms: float | None = None,
    ) -> None:
        ref = candidate
        error_class = error.error_class if error is not None else None
        detail = detail if detail is not None else (error.message[:200] if error is not None else None)
        self.outcome.attempts.append(
            AttemptRecord(
                provider=ref.provider,
                model=ref.model,
                account=ref.account,
                outcome=outcome,
                error_class=error_class,
                latency_ms=latency_ms,
                detail=detail,
                started_at=started_at,
                usage=usage,
                cost_usd=cost,
                estimated=estimated,
                ttft_ms=ttft_ms,
            )
        )


def lost_leg_settlement(candidate: RankedCandidate, hold: Hold, profile: ModelProfile) -> Settle:
    """A hedge's cancelled leg: the provider received the request, so it counts with its input tokens' price."""
    usage = Usage(input_tokens=candidate.input_tokens)
    cost = 0.0 if candidate.estimated_cost_usd == 0 else candidate.input_tokens * profile.input_cost_per_1m / 1e6
    return Settle(hold, usage, cost)


def _group(candidate: RankedCandidate) -> tuple[str, str]:
    return candidate.provider, candidate.model


def _had_failures(state: CandidateState | None) -> bool:
    return state is None or state.consecutive_failures > 0 or state.breaker_open_until is not None


def _ms_since(started: float) -> float:
    return (anyio.current_time() - started) * 1000.0
