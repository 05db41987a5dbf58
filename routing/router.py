"""The router: analyse -> snapshot -> decide -> for each candidate: reserve -> call -> settle -> act -> log.

Everything with I/O sits behind routing/ports.py; policy lives in decide() (ranking) and failover.action_for()
(what an error means). Failover happens before any output is returned to the caller, so it is always safe.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from providers.errors import ProviderError
from providers.models import Account
from providers.types import Message, Usage
from routing import tokens
from routing.analyse import Counter, analyse
from routing.attempt import AttemptRunner, StateKey, Wait
from routing.cache import CachedAnswer, CacheKeyParts, CachePlan, cache_key, cache_ttl
from routing.decide import decide
from routing.fallback import ClientFallback, ClientModel, Routed
from routing.logbook import decision_entry, dry_run_result, route_result
from routing.outcome import Outcome, Served, frees_at, no_route_fix
from routing.ports import CacheWrite, ConversationRecord, DecisionLogEntry, Ports, SavedTurn, Seed
from routing.request import RouteRequest, RouterSetup, for_history
from routing.results import DryRunResult, NoRouteAvailable, RouteError, RouteResult
from routing.streaming import Progress
from routing.tokens import message_tokens
from routing.types import CandidateState, Decision, Task

__all__ = ["Prepared", "RouteRequest", "Router", "RouterSetup"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared(Routed):
    """A request analysed and decided, with the state it was decided on."""

    states: dict[StateKey, CandidateState]
    #: `message_tokens` of the request's new messages, counted once by analyse and reused for the saved turn
    new_tokens: int | None = None


@dataclass
class Router:
    """Routes requests by `setup` through `ports`; `clock` gives aware datetimes, `wait` waits out a Retry-After."""

    setup: RouterSetup
    ports: Ports
    clock: Callable[[], datetime]
    count: Counter | None = None
    wait: Wait = anyio.sleep
    _seed: int = field(default=0, init=False)

    async def seeds(self) -> list[Seed]:
        """Every enabled (provider, model, account) of the configuration, with whether a key is known."""
        seeds: list[Seed] = []
        for provider in self.setup.providers.values():
            for index, account in enumerate(provider.accounts):
                has_key = await self._has_key(account)
                seeds.extend(Seed(provider, account, model, index, has_key) for model in provider.models.values())
        return seeds

    async def _has_key(self, account: Account) -> bool:
        if account.credential.source == "none":
            return True
        try:
            return await self.ports.keys.get(account) is not None
        except ProviderError:
            # an unusable key is tried, so its attempt fails as auth_failed and names the fix
            return True

    def _task(self, request: RouteRequest, record: ConversationRecord) -> tuple[Task, int | None]:
        """The task, and the new messages' token count when the tokenizer made it (the turn saved reuses it)."""
        new_tokens: int | None = None
        counter = self.count
        if counter is None and not any(message.images for message in request.messages):
            new_tokens = message_tokens(request.messages)
            counter = _counted(request.messages, new_tokens)
        task = analyse(
            request.messages,
            system=request.system,
            task_type=request.task_type,
            quality=request.quality,
            budget_mode=request.budget_mode,
            max_output_tokens=request.max_output_tokens,
            max_cost_usd=request.max_cost_usd,
            tools=request.tools,
            json_output=request.json_output or request.json_schema is not None,
            conversation_id=record.state.id,
            provider=request.provider,
            model=request.model,
            count=counter,
            history=record.messages,
            history_tokens=record.state.history_tokens if record.messages else None,
        )
        if request.files:
            task = task.model_copy(update={"files": tuple((file.path, file.tokens) for file in request.files)})
        return task, new_tokens

    async def _prepare(self, request: RouteRequest, now: datetime) -> Prepared:
        if self.count is None:
            await tokens.ready()  # loaded off the event loop on the first request (not at start-up: memory)
        view = await self.ports.state.view(await self.seeds(), request.conversation_id, now)
        record = view.conversation
        task, new_tokens = self._task(request, record)
        task = _with_speed_inputs(task, request, view.expected_output)
        self._seed += 1
        decision = decide(
            task, view.candidates, self.setup.preferences, record.state, view.manual, now=now, seed=self._seed
        )
        states = {(c.provider, c.account, c.model.id): c for c in view.candidates}
        return Prepared(task, decision, record, states, new_tokens)

    async def preview(self, request: RouteRequest) -> DryRunResult:
        """The decision for `request` without calling anything (logged as a dry run)."""
        now = self.clock()
        prepared = await self._prepare(request, now)
        entry = self._entry(prepared, Outcome(), dry_run=True)
        decision_id = await self.ports.bookkeeping.finish((), entry, None, now)
        return dry_run_result(prepared.decision, prepared.record.state.id, decision_id)

    async def route(
        self, request: RouteRequest, progress: Progress | None = None, client: ClientModel | None = None
    ) -> RouteResult:
        """Serve `request` on the best candidate that answers, failing over down the ranked list; when none can,
        on `client` (the MCP client's own model, routing.fallback) if given and `samplingFallback` allows.

        Cancelling the call (the caller went away) cancels the upstream request and releases its reservation.

        Raises:
            NoRouteAvailable: nothing could serve; the error lists every attempt and when something frees up.
            InvalidRequestError: the provider rejected the request itself (failover would repeat it).
            ClientDeferred: the client's answer comes on its retry of the call (the decision so far is logged).
        """
        started = self.clock()
        prepared = await self._prepare(request, started)
        decision = prepared.decision
        if decision.chosen is None:
            retry_at = frees_at(decision.excluded, prepared.states, started)

            def no_route(decision_id: int | None) -> NoRouteAvailable:
                message = _no_route_message(decision, decision_id)
                fix = _setup_fix(decision) or no_route_fix(retry_at)
                return NoRouteAvailable(message, retry_at=retry_at, decision_id=decision_id, fix=fix)

            if client is not None and self._may_fall_back(request, None):
                return await self._fallback().serve(client, prepared, request, Outcome(), no_route, started)
            entry = self._entry(prepared, Outcome(), dry_run=False)
            raise no_route(await self.ports.bookkeeping.finish((), entry, None, started))
        plan = self._cache_plan(request, prepared)
        if plan is not None and (hit := await self._from_cache(prepared, request, plan, started)) is not None:
            return hit
        runner = AttemptRunner(
            self.setup,
            self.ports,
            self.clock,
            prepared.task,
            decision,
            prepared.record,
            request,
            progress,
            prepared.states,
            self.wait,
            anyio.current_time() + self.setup.deadline_s,
        )
        try:
            with anyio.move_on_after(self.setup.deadline_s) as deadline:
                outcome = await runner.run(decision.ranked)
        except anyio.get_cancelled_exc_class():
            outcome = runner.abandon()
            with anyio.CancelScope(shield=True):
                entry = self._entry(prepared, outcome, dry_run=False)
                await self.ports.bookkeeping.finish(outcome.changes, entry, None, self.clock())
            raise
        except Exception as failure:
            # the loop itself failed: what it did so far is still logged, and the open reservation released
            log.exception("routing failed unexpectedly; the attempts so far are logged")
            outcome = runner.abandon()
            outcome.failure = failure
        if deadline.cancelled_caught:
            outcome = runner.outcome
            outcome.deadline_s = self.setup.deadline_s
        if outcome.served is None and client is not None and self._may_fall_back(request, outcome):
            outcome.note_retry_at(frees_at(decision.excluded, prepared.states, self.clock()))
            return await self._fallback().serve(client, prepared, request, outcome, outcome.error, started)
        result = await self._finish(prepared, request, outcome, started)
        if plan is not None:
            await self._remember(plan, result)
        return result

    def _may_fall_back(self, request: RouteRequest, outcome: Outcome | None) -> bool:
        """Whether the client's model may answer: `samplingFallback` on, no json_schema to hold it to, and the
        request not stopped on purpose (a provider's rejection of the request, an invalid answer, our failure)."""
        if not self.setup.preferences.sampling_fallback or request.json_schema is not None:
            return False
        return outcome is None or (outcome.stop is None and outcome.invalid is None and outcome.failure is None)

    def _fallback(self) -> ClientFallback:
        return ClientFallback(self.ports, self.clock, self.setup.log_prompts)

    def _cache_plan(self, request: RouteRequest, prepared: Prepared) -> CachePlan | None:
        """The cache key and TTL of a cacheable call (README "Response cache"); None when it is not cached."""
        chosen, task = prepared.decision.chosen, prepared.task
        if self.ports.cache is None or chosen is None:
            return None
        ttl = cache_ttl(self.setup.preferences.cache, task.task_type, request.temperature, request.cache)
        if ttl is None:
            return None
        parts = CacheKeyParts(
            task.system, for_history(task.messages), request.tools, request.json_output, request.temperature,
            request.max_output_tokens, chosen.provider, chosen.model, request.conversation_id,
            tuple(file.sha256 for file in request.files), request.json_schema,
        )  # fmt: skip
        return CachePlan(cache_key(parts), request.conversation_id, ttl)

    async def _from_cache(
        self, prepared: Prepared, request: RouteRequest, plan: CachePlan, started: datetime
    ) -> RouteResult | None:
        """A hit: logged as a decision with reason `cache` and no attempts, the turn saved, nothing reserved."""
        assert self.ports.cache is not None
        try:
            stored = await self.ports.cache.lookup(plan.key, started)
            answer = None if stored is None else CachedAnswer.model_validate_json(stored)
        except Exception:
            # the cache only saves money: a broken one must not stop the call
            log.warning("the response cache could not be read; calling the provider instead", exc_info=True)
            return None
        if answer is None:
            return None
        base = self._entry(prepared, Outcome(), dry_run=False)
        entry = dataclasses.replace(
            base, provider=answer.provider, model=answer.model, account=answer.account, reason="cache"
        )
        record = prepared.record
        reply = Message(role="assistant", content=answer.text, tool_calls=answer.tool_calls)
        messages = (*for_history(request.messages), reply)
        turn = SavedTurn(
            conversation_id=record.state.id, messages=messages, provider=answer.provider, model=answer.model,
            tokens=0, task_type=prepared.task.task_type,
            history_tokens=record.state.history_tokens + message_tokens(messages),
        )  # fmt: skip
        now = self.clock()
        with anyio.CancelScope(shield=True):
            decision_id = await self.ports.bookkeeping.finish((), entry, turn, now)
        return cached_result(prepared, answer, record.state.id, decision_id, (now - started).total_seconds())

    async def _remember(self, plan: CachePlan, result: RouteResult) -> None:
        assert self.ports.cache is not None
        answer = CachedAnswer(
            text=result.text, tool_calls=result.tool_calls, finish_reason=result.finish_reason, usage=result.usage,
            cost_usd=result.cost_usd, provider=result.provider, model=result.model, account=result.account,
        )  # fmt: skip
        now = self.clock()
        write = CacheWrite(
            plan.key, plan.scope, answer.model_dump_json(), result.usage.total_tokens, result.cost_usd,
            plan.expires_at(now),
        )  # fmt: skip
        try:
            await self.ports.cache.save(write, now, int(self.setup.preferences.cache.max_mb * 1024 * 1024))
        except Exception:
            log.warning("the answer could not be cached; it is returned all the same", exc_info=True)

    def _entry(self, prepared: Prepared, outcome: Outcome, *, dry_run: bool) -> DecisionLogEntry:
        return decision_entry(
            prepared.task,
            prepared.decision,
            outcome.attempts,
            outcome.served,
            prepared.record,
            dry_run=dry_run,
            log_prompts=self.setup.log_prompts,
        )

    async def _finish(
        self, prepared: Prepared, request: RouteRequest, outcome: Outcome, started: datetime
    ) -> RouteResult:
        now = self.clock()
        entry = self._entry(prepared, outcome, dry_run=False)
        served = outcome.served
        turn = self._turn(prepared, request, served) if served is not None else None
        # shielded: the serving attempt's settlement travels with the decision and must not be lost to a cancel
        with anyio.CancelScope(shield=True):
            decision_id = await self.ports.bookkeeping.finish(outcome.changes, entry, turn, now)
        if served is None:
            outcome.note_retry_at(frees_at(prepared.decision.excluded, prepared.states, now))
            raise outcome.error(decision_id)
        elapsed = (now - started).total_seconds()
        return route_result(prepared.task, prepared.decision, outcome, entry, decision_id, elapsed)

    def _turn(self, prepared: Prepared, request: RouteRequest, served: Served) -> SavedTurn:
        """The turn to save: the new messages and the reply; the history starts afresh when it was not carried."""
        record = prepared.record
        messages = (*for_history(request.messages), served.reply)
        moved = record.state.current_provider is not None and served.ranked.provider != record.state.current_provider
        restart = bool(record.messages) and moved and not self.setup.preferences.preserve_context
        before = 0 if restart else record.state.history_tokens
        # the new messages as counted by analyse (for_history keeps messages without images as they are)
        counted = prepared.new_tokens
        added = message_tokens(messages) if counted is None else counted + message_tokens((served.reply,))
        return SavedTurn(
            conversation_id=record.state.id,
            messages=messages,
            provider=served.ranked.provider,
            model=served.ranked.model,
            tokens=served.completion.usage.total_tokens,
            task_type=prepared.task.task_type,
            history_tokens=before + added,
            preferred=served.preferred,
            restart=restart,
            warm_account=served.ranked.account if _cache_active(served.completion.usage) else None,
        )


def _counted(messages: tuple[Message, ...], counted: int) -> Counter:
    """The tokenizer's counter, answering from `counted` (`message_tokens` of `messages`) when asked about exactly
    those messages: the prompt is tokenized once per request."""

    def count(asked: Sequence[Message], system: str | None) -> int:
        if len(asked) == len(messages) and all(a is b for a, b in zip(asked, messages, strict=True)):
            return tokens.request_tokens(counted, system)
        return tokens.estimate_tokens(asked, system)

    return count


def _cache_active(usage: Usage) -> bool:
    """Whether the provider read or wrote its prompt cache for this call (the prefix is warm on that account)."""
    return usage.cache_read_tokens > 0 or usage.cache_write_tokens > 0


#: exclusions listed in the error when nothing could be tried (the dry run and the decision log have them all)
LISTED_EXCLUSIONS = 10


def _with_speed_inputs(task: Task, request: RouteRequest, expected: dict[str, float] | None) -> Task:
    """The call's `max_latency_s` and its task type's recent output size (predicted completion times)."""
    typical = (expected or {}).get(task.task_type)
    if request.max_latency_s is None and typical is None:
        return task
    update = {"max_latency_s": request.max_latency_s, "expected_output_tokens": round(typical) if typical else None}
    return task.model_copy(update=update)


def _no_route_message(decision: Decision, decision_id: int | None) -> str:
    """Why nothing could even be tried, with the exclusions that decided it (all of them in the decision log)."""
    message = decision.error.message if decision.error else "no provider can serve this request"
    lines = [message]
    lines.extend(f"  - {e.label}: {e.filter} ({e.detail})" for e in decision.excluded[:LISTED_EXCLUSIONS])
    where = f"`exclusions` of router://decisions/{decision_id}" if decision_id is not None else "the decision log"
    if len(decision.excluded) > LISTED_EXCLUSIONS:
        lines.append(f"  - and {len(decision.excluded) - LISTED_EXCLUSIONS} more (all of them: {where})")
    return "\n".join(lines)


def cached_result(
    prepared: Prepared, answer: CachedAnswer, conversation_id: str, decision_id: int | None, latency_s: float
) -> RouteResult:
    """The caller's result for a cache hit: the stored answer at $0, no usage and no attempts."""
    task, decision = prepared.task, prepared.decision
    return RouteResult(
        text=answer.text, tool_calls=answer.tool_calls, finish_reason=answer.finish_reason,
        provider=answer.provider, model=answer.model, account=answer.account, reason="cache",
        confidence=decision.confidence, task_type=task.task_type, task_type_inferred=task.task_type_inferred,
        quality=task.quality, budget_mode=decision.budget_mode, usage=Usage(), cost_usd=0.0,
        latency_ms=round(latency_s * 1000.0, 1), attempts=(), conversation_id=conversation_id,
        decision_id=decision_id, cache_hit=True,
    )  # fmt: skip


def _setup_fix(decision: Decision) -> str | None:
    if decision.excluded and all(e.filter == "no_key" for e in decision.excluded):
        return "no provider has a key: run `provider-router keys set PROVIDER` (or `provider-router setup`)"
    if not decision.excluded and not decision.ranked:
        return "no providers are configured: run `provider-router setup`"
    return None


__all__ = ["NoRouteAvailable", "Progress", "RouteError", "RouteRequest", "Router", "RouterSetup"]
