"""The router: analyse -> snapshot -> decide -> for each candidate: reserve -> call -> settle -> act -> log.

Everything with I/O sits behind routing/ports.py; policy lives in decide() (ranking) and failover.action_for()
(what an error means). Failover happens before any output is returned to the caller, so it is always safe.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from providers.models import ProviderConfig, TaskType
from providers.types import ChatRequest, Message, ToolSpec
from routing.analyse import Counter, analyse
from routing.attempt import AttemptRunner, Outcome
from routing.decide import decide
from routing.logbook import decision_entry, dry_run_result, route_result
from routing.ports import ConversationRecord, Ports, Seed
from routing.preferences import BudgetMode, Preferences, QualityMode
from routing.results import DryRunResult, NoRouteAvailable, RouteError, RouteResult
from routing.types import Decision, RankedCandidate, Task

log = logging.getLogger(__name__)

#: (output tokens so far, message) -> reported to the caller while a completion streams in
Progress = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class RouteRequest:
    """One call of route_and_complete, validated by the caller."""

    messages: tuple[Message, ...]
    system: str | None = None
    task_type: TaskType | None = None
    quality: QualityMode | None = None
    budget_mode: BudgetMode | None = None
    provider: str | None = None
    model: str | None = None
    conversation_id: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    max_cost_usd: float | None = None
    tools: tuple[ToolSpec, ...] = ()
    json_output: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class RouterSetup:
    """The configuration the router routes by; replaced whole when providers.json changes."""

    providers: dict[str, ProviderConfig]
    preferences: Preferences
    request_timeout_s: float = 60.0
    deadline_s: float = 180.0
    timezone: str = "UTC"
    log_prompts: bool = False


@dataclass
class Router:
    setup: RouterSetup
    ports: Ports
    clock: Callable[[], datetime]
    count: Counter | None = None
    _seed: int = field(default=0, init=False)

    async def seeds(self) -> list[Seed]:
        """Every enabled (provider, model, account) of the configuration, with whether a key is known."""
        seeds: list[Seed] = []
        for provider in self.setup.providers.values():
            for index, account in enumerate(provider.accounts):
                has_key = account.credential.source == "none" or await self.ports.keys.get(account) is not None
                seeds.extend(Seed(provider, account, model, index, has_key) for model in provider.models.values())
        return seeds

    def _task(self, request: RouteRequest, record: ConversationRecord) -> Task:
        return analyse(
            (*record.messages, *request.messages),
            system=request.system,
            task_type=request.task_type,
            quality=request.quality,
            budget_mode=request.budget_mode,
            max_output_tokens=request.max_output_tokens,
            max_cost_usd=request.max_cost_usd,
            tools=request.tools,
            json_output=request.json_output,
            conversation_id=record.state.id,
            provider=request.provider,
            model=request.model,
            count=self.count,
        )

    async def _decide(self, request: RouteRequest, now: datetime) -> tuple[Task, Decision, ConversationRecord]:
        record = await self.ports.conversations.load(request.conversation_id, now)
        task = self._task(request, record)
        states = await self.ports.state.candidate_states(await self.seeds(), now)
        manual = await self.ports.conversations.global_pin()
        self._seed += 1
        decision = decide(task, states, self.setup.preferences, record.state, manual, now=now, seed=self._seed)
        return task, decision, record

    async def preview(self, request: RouteRequest) -> DryRunResult:
        """The decision for `request` without calling anything (logged as a dry run)."""
        now = self.clock()
        task, decision, record = await self._decide(request, now)
        entry = decision_entry(task, decision, (), None, record, dry_run=True, log_prompts=self.setup.log_prompts)
        decision_id = await self.ports.decisions.record(entry, now)
        return dry_run_result(decision, record.state.id, decision_id)

    async def route(self, request: RouteRequest, progress: Progress | None = None) -> RouteResult:
        """Serve `request` on the best candidate that answers, failing over down the ranked list.

        Raises:
            NoRouteAvailable: nothing could serve; the error lists every attempt and when something frees up.
            InvalidRequestError: the provider rejected the request itself (failover would repeat it).
        """
        started = self.clock()
        task, decision, record = await self._decide(request, started)
        if decision.chosen is None:
            entry = decision_entry(task, decision, (), None, record, dry_run=False, log_prompts=self.setup.log_prompts)
            decision_id = await self.ports.decisions.record(entry, started)
            message = decision.error.message if decision.error else "no provider can serve this request"
            raise NoRouteAvailable(message, decision_id=decision_id, fix=_setup_fix(decision))
        ranked = await self._rotate_pool(decision.ranked)
        runner = AttemptRunner(self.setup, self.ports, self.clock, task, decision, record, request, progress)
        with anyio.move_on_after(self.setup.deadline_s) as deadline:
            outcome = await runner.run(ranked)
        if deadline.cancelled_caught:
            outcome = runner.timed_out()
        return await self._finish(task, decision, record, request, outcome, started)

    async def _rotate_pool(self, ranked: Sequence[RankedCandidate]) -> list[RankedCandidate]:
        """Start the first (provider, model) group at the account the shared round-robin cursor points to."""
        if not ranked:
            return []
        first = ranked[0]
        group = [r for r in ranked if (r.provider, r.model) == (first.provider, first.model)]
        provider = self.setup.providers.get(first.provider)
        if len(group) < 2 or provider is None or provider.load_balancing != "round_robin":
            return list(ranked)
        order = [a.id for a in provider.accounts if any(r.account == a.id for r in group)]
        start = await self.ports.state.next_in_pool(provider.id, order)
        at = order.index(start) if start in order else 0
        rotated_ids = order[at:] + order[:at]
        by_id = {r.account: r for r in group}
        rotated = [by_id[account] for account in rotated_ids]
        rest = [r for r in ranked if r not in group]
        return rotated + rest

    async def _finish(
        self,
        task: Task,
        decision: Decision,
        record: ConversationRecord,
        request: RouteRequest,
        outcome: Outcome,
        started: datetime,
    ) -> RouteResult:
        now = self.clock()
        served = outcome.served
        entry = decision_entry(
            task, decision, outcome.logs, served, record, dry_run=False, log_prompts=self.setup.log_prompts
        )
        decision_id = await self.ports.decisions.record(entry, now)
        if served is None:
            raise outcome.error(decision_id)
        await self.ports.conversations.save_turn(
            record,
            (*request.messages, served.reply),
            provider=served.ranked.provider,
            model=served.ranked.model,
            tokens=served.completion.usage.total_tokens,
            preferred=served.preferred,
            now=now,
        )
        return route_result(task, decision, outcome, entry, decision_id, (now - started).total_seconds())


def _setup_fix(decision: Decision) -> str | None:
    if decision.excluded and all(e.filter == "no_key" for e in decision.excluded):
        return "no provider has a key: run `provider-router keys set PROVIDER` (or `provider-router setup`)"
    if not decision.excluded and not decision.ranked:
        return "no providers are configured: run `provider-router setup`"
    return None


def as_chat_request(task: Task, ranked: RankedCandidate, request: RouteRequest) -> ChatRequest:
    """The request for one candidate: the task's messages with that model's output budget."""
    return ChatRequest(
        model=ranked.model,
        messages=task.messages,
        system=task.system,
        max_output_tokens=ranked.output_tokens,
        temperature=request.temperature,
        tools=request.tools,
        json_output=request.json_output,
    )


__all__ = ["NoRouteAvailable", "RouteError", "RouteRequest", "Router", "RouterSetup"]
