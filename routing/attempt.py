"""The failover loop of one request: reserve -> call (streamed, under a timeout) -> settle -> act on the error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from providers.adapter import ChatAdapter
from providers.errors import ProviderError, ProviderTransportError
from providers.models import Account, ModelProfile, ProviderConfig
from providers.types import ChatRequest, Completion, Message, StreamDone, TextDelta, Usage
from routing.convert import convert_history
from routing.cost import is_free_tier, usage_cost_usd
from routing.failover import MAX_IN_REQUEST_WAIT_S, Action, action_for
from routing.ports import AttemptLog, ConversationRecord, Hold, Ports, Refusal
from routing.results import Attempt, AttemptOutcome, InvalidRequestError, NoRouteAvailable, RouteError
from routing.tokens import estimate_tokens
from routing.types import Decision, RankedCandidate, Task

if TYPE_CHECKING:
    from routing.router import RouteRequest, RouterSetup

#: report streaming progress every this many text deltas
PROGRESS_EVERY = 16
NO_USAGE = Usage()


@dataclass(frozen=True)
class Served:
    ranked: RankedCandidate
    completion: Completion
    cost_usd: float
    reply: Message
    #: where the conversation belongs from now on (None: unchanged)
    preferred: tuple[str, str] | None


@dataclass
class Outcome:
    served: Served | None = None
    attempts: list[Attempt] = field(default_factory=list[Attempt])
    logs: list[AttemptLog] = field(default_factory=list[AttemptLog])
    stop: ProviderError | None = None
    retry_at: datetime | None = None

    def note_retry_at(self, when: datetime | None) -> None:
        if when is not None and (self.retry_at is None or when < self.retry_at):
            self.retry_at = when

    def error(self, decision_id: int) -> RouteError:
        attempts = tuple(self.attempts)
        if self.stop is not None:
            return InvalidRequestError(
                f"{self.stop.provider} rejected the request: {self.stop.message}",
                attempts=attempts,
                decision_id=decision_id,
                fix="change the request (another provider would reject it the same way)",
            )
        tried = sum(1 for a in attempts if a.outcome != "skipped")
        return NoRouteAvailable(
            f"no provider could serve this request ({tried} tried, {len(attempts) - tried} refused by limits)",
            attempts=attempts,
            retry_at=self.retry_at,
            decision_id=decision_id,
            fix="wait until the time above, add an account or provider, or relax budget_mode / max_cost_usd",
        )


@dataclass
class AttemptRunner:
    setup: RouterSetup
    ports: Ports
    clock: Callable[[], datetime]
    task: Task
    decision: Decision
    record: ConversationRecord
    request: RouteRequest
    progress: Callable[[int, str], Awaitable[None]] | None
    outcome: Outcome = field(default_factory=Outcome)
    _blocked_accounts: set[str] = field(default_factory=set[str])
    _skip_windows_up_to: int = 0

    async def run(self, ranked: Sequence[RankedCandidate]) -> Outcome:
        after_limit: bool | None = None
        for index, candidate in enumerate(ranked):
            if after_limit is not None and not self.decision.may_try(candidate, after_limit):
                break
            profile, provider, account = self._lookup(candidate)
            if account.id in self._blocked_accounts or profile.context_window <= self._skip_windows_up_to:
                continue
            last = index == len(ranked) - 1
            action = await self._attempt(candidate, provider, account, profile, retry_allowed=last)
            if action is None:
                return self.outcome
            if action.stop:
                break
            after_limit = action.is_limit
        return self.outcome

    def timed_out(self) -> Outcome:
        return self.outcome

    def _lookup(self, candidate: RankedCandidate) -> tuple[ModelProfile, ProviderConfig, Account]:
        provider = self.setup.providers[candidate.provider]
        account = next(a for a in provider.accounts if a.id == candidate.account)
        return provider.models[candidate.model], provider, account

    async def _attempt(
        self,
        candidate: RankedCandidate,
        provider: ProviderConfig,
        account: Account,
        profile: ModelProfile,
        *,
        retry_allowed: bool,
    ) -> Action | None:
        """One try (and, for the last candidate, one wait-and-retry); None when it served the request."""
        action = await self._try_once(candidate, provider, account, profile)
        if (
            action is not None
            and retry_allowed
            and action.retry_after_s is not None
            and action.retry_after_s <= MAX_IN_REQUEST_WAIT_S
        ):
            await anyio.sleep(action.retry_after_s)
            action = await self._try_once(candidate, provider, account, profile)
        return action

    async def _try_once(
        self, candidate: RankedCandidate, provider: ProviderConfig, account: Account, profile: ModelProfile
    ) -> Action | None:
        now = self.clock()
        hold = await self.ports.ledger.reserve(
            account,
            profile.id,
            estimated_tokens=candidate.input_tokens + candidate.output_tokens,
            worst_case_cost_usd=candidate.estimated_cost_usd,
            now=now,
        )
        if isinstance(hold, Refusal):
            self._record(candidate, "skipped", 0.0, now, detail=f"{hold.limit} ({hold.scope}): {hold.detail}")
            self.outcome.note_retry_at(hold.resets_at)
            return Action(is_limit=True, counted=False)
        key = await self.ports.keys.get(account)
        adapter = self.ports.connect(provider, account, key)
        started = anyio.current_time()
        try:
            with anyio.fail_after(self.setup.request_timeout_s):
                completion = await self._call(adapter, self._chat_request(candidate, provider, profile), candidate)
        except TimeoutError as timeout:
            error: ProviderError = ProviderTransportError(
                f"no answer within {self.setup.request_timeout_s:g} s",
                provider=provider.id,
                account=account.id,
                model=profile.id,
            )
            error.__cause__ = timeout
            return await self._failed(candidate, account, profile, hold, error, started, now)
        except ProviderError as provider_error:
            return await self._failed(candidate, account, profile, hold, provider_error, started, now)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self.ports.ledger.release(hold, now=self.clock())
                self._record(candidate, "cancelled", _ms_since(started), now)
            raise
        await self._served(candidate, account, profile, hold, completion, started, now)
        return None

    def _chat_request(self, candidate: RankedCandidate, provider: ProviderConfig, profile: ModelProfile) -> ChatRequest:
        messages: Sequence[Message] = self.task.messages
        system = self.task.system
        switch = self.decision.switch
        if self.record.messages and switch is not None and not switch.carry_history:
            messages = self.request.messages
        elif self.record.messages and candidate.provider != self.record.state.current_provider:
            converted = convert_history(
                messages,
                system,
                target=provider.kind,
                context_window=profile.context_window,
                max_output_tokens=candidate.output_tokens,
                count=lambda msgs, sys: estimate_tokens(msgs, sys, provider=provider.catalog),
            )
            messages, system = converted.messages, converted.system
        return ChatRequest(
            model=profile.id,
            messages=tuple(messages),
            system=system,
            max_output_tokens=candidate.output_tokens,
            temperature=self.request.temperature,
            tools=self.request.tools,
            json_output=self.request.json_output,
        )

    async def _call(self, adapter: ChatAdapter, chat: ChatRequest, candidate: RankedCandidate) -> Completion:
        deltas = 0
        where = f"{candidate.provider}/{candidate.model}"
        if self.progress is not None:
            await self.progress(0, f"routed to {where}")
        async for event in adapter.stream(chat):
            if isinstance(event, StreamDone):
                return event.completion
            if isinstance(event, TextDelta) and self.progress is not None:
                deltas += 1
                if deltas % PROGRESS_EVERY == 0:
                    await self.progress(deltas, f"streaming from {where}")
        raise ProviderTransportError(
            "the stream ended without a final event",
            provider=candidate.provider,
            account=candidate.account,
            model=candidate.model,
        )

    async def _served(
        self,
        candidate: RankedCandidate,
        account: Account,
        profile: ModelProfile,
        hold: Hold,
        completion: Completion,
        started: float,
        now: datetime,
    ) -> None:
        latency = _ms_since(started)
        free = candidate.estimated_cost_usd == 0 and is_free_tier(profile, None)
        cost = usage_cost_usd(completion.usage, profile, free=free, reported=completion.reported_cost_usd)
        settled_at = self.clock()
        await self.ports.ledger.settle(hold, usage=completion.usage, cost_usd=cost, now=settled_at)
        await self.ports.health.succeeded(account.id, profile.id)
        if not completion.rate_limits.is_empty:
            await self.ports.health.learn(account.id, profile.id, completion.rate_limits, settled_at)
        self._record(candidate, "success", latency, now, usage=completion.usage, cost=cost)
        reply = Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls)
        self.outcome.served = Served(candidate, completion, cost, reply, self._preferred(candidate))

    def _preferred(self, served: RankedCandidate) -> tuple[str, str] | None:
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
        if action.counted:
            await self.ports.ledger.settle(hold, usage=Usage(), cost_usd=0.0, now=failed_at)
        else:
            await self.ports.ledger.release(hold, now=failed_at)
        await self._apply(action, account, profile, failed_at)
        self._record(candidate, "error", latency, now, error=error)
        if action.stop:
            self.outcome.stop = error
        return action

    async def _apply(self, action: Action, account: Account, profile: ModelProfile, now: datetime) -> None:
        model = None if action.scope == "account" else profile.id
        health = self.ports.health
        if action.exhausted_until is not None:
            await health.exhaust(account.id, model, action.exhausted_until, action.reason, now)
            self.outcome.note_retry_at(action.exhausted_until)
        if action.cooldown_until is not None:
            await health.cool_down(account.id, model, action.cooldown_until, action.reason, now)
            self.outcome.note_retry_at(action.cooldown_until)
        if action.disable_account:
            await health.disable(account.id, action.reason, now)
            self.ports.keys.forget(account.id)
        if action.retire_model:
            await health.retire_model(account.provider, profile.id, action.reason, now)
        if action.breaker:
            await health.failed(account.id, profile.id, now)
        if model is None and (action.exhausted_until or action.disable_account):
            self._blocked_accounts.add(account.id)
        if action.skip_windows_up_to is not None:
            self._skip_windows_up_to = max(self._skip_windows_up_to, action.skip_windows_up_to)

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
    ) -> None:
        ref = candidate
        error_class = error.error_class if error is not None else None
        detail = detail if detail is not None else (error.message[:200] if error is not None else None)
        self.outcome.attempts.append(
            Attempt(
                provider=ref.provider,
                model=ref.model,
                account=ref.account,
                outcome=outcome,
                error_class=error_class,
                latency_ms=round(latency_ms, 1),
                detail=detail,
            )
        )
        self.outcome.logs.append(
            AttemptLog(ref.provider, ref.model, ref.account, outcome, latency_ms, started_at, error_class, usage, cost)
        )


def _ms_since(started: float) -> float:
    return (anyio.current_time() - started) * 1000.0
