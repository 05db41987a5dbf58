"""The last resort: when no provider can serve, the client's own model answers (MCP sampling).

The router calls `serve_by_client` only when nothing served and nothing stopped the request on purpose (a provider
rejecting the request itself, an answer failing the json_schema, the router's own failure). The MCP layer supplies
the `ClientModel` (server/mcp/sampling.py) when the client declared `sampling` and `preferences.samplingFallback` is
on. The result says provider `client`, reason `failover`, cost $0 (the client pays), tokens as the client reported
them or estimated; the attempt is logged and counted like any other.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import anyio

from providers.attempts import AttemptRecord
from providers.models import TaskType
from providers.types import Message, Usage
from routing.logbook import decision_entry
from routing.preferences import BudgetMode, QualityMode
from routing.results import Attempt, RouteError, RouteResult
from routing.tokens import count_text

if TYPE_CHECKING:
    from routing.outcome import Outcome
    from routing.ports import ConversationRecord, Ports
    from routing.request import RouteRequest
    from routing.types import Decision, Task

log = logging.getLogger(__name__)

#: the provider (and account) a sampling fallback is reported under
CLIENT = "client"
#: the answer's cap when the request set none
DEFAULT_CLIENT_MAX_TOKENS = 4096


@dataclass(frozen=True)
class ClientAsk:
    """What the client's model is asked: the same system and turns, and what the routing knew of the task."""

    system: str | None
    messages: tuple[Message, ...]
    max_output_tokens: int
    temperature: float | None
    task_type: TaskType
    quality: QualityMode | None
    budget_mode: BudgetMode


@dataclass(frozen=True)
class ClientAnswer:
    text: str
    model: str
    #: as the client reported them (None: not reported, estimated)
    input_tokens: int | None = None
    output_tokens: int | None = None


class ClientModel(Protocol):
    async def __call__(self, ask: ClientAsk) -> ClientAnswer:
        """The client's answer. Raises `ClientDeferred` when it arrives on the client's retry instead."""
        ...


class ClientDeferred(Exception):
    """The answer comes with the client's retry of the call (MCP 2026-07-28 `InputRequiredResult`): the decision so
    far is logged and this propagates to the MCP layer, which returns the request to the client."""

    def __init__(self, payload: object) -> None:
        super().__init__("the client's answer arrives on its retry")
        self.payload = payload


@dataclass(frozen=True)
class Priorities:
    """MCP `modelPreferences` priorities (0..1)."""

    cost: float
    speed: float
    intelligence: float


_BY_TASK: dict[TaskType, Priorities] = {
    "coding": Priorities(cost=0.4, speed=0.4, intelligence=0.8),
    "reasoning": Priorities(cost=0.3, speed=0.2, intelligence=0.9),
    "creative": Priorities(cost=0.4, speed=0.4, intelligence=0.6),
    "simple": Priorities(cost=0.8, speed=0.8, intelligence=0.2),
}


def priorities(task_type: TaskType, quality: QualityMode | None, budget_mode: BudgetMode) -> Priorities:
    """The client's model preferences for a task: the task type's, moved by the quality and budget modes."""
    base = _BY_TASK[task_type]
    if quality == "max_speed":
        base = dataclasses.replace(base, speed=0.9, intelligence=min(base.intelligence, 0.4))
    elif quality == "max_quality":
        base = dataclasses.replace(base, intelligence=1.0, speed=0.2, cost=0.2)
    if budget_mode in ("free_only", "cost_first"):
        base = dataclasses.replace(base, cost=max(base.cost, 0.9))
    return base


@dataclass(frozen=True)
class Routed:
    """What the router decided for the request (its `Prepared`, without the state it decided on)."""

    task: Task
    decision: Decision
    record: ConversationRecord


def ask_for(prepared: Routed, request: RouteRequest) -> ClientAsk:
    task = prepared.task
    return ClientAsk(
        system=task.system,
        messages=task.messages,
        max_output_tokens=request.max_output_tokens or DEFAULT_CLIENT_MAX_TOKENS,
        temperature=request.temperature,
        task_type=task.task_type,
        quality=task.quality,
        budget_mode=prepared.decision.budget_mode,
    )


@dataclass
class ClientFallback:
    """One request's last resort: ask the client, log the attempt with the decision, return its answer."""

    ports: Ports
    clock: Callable[[], datetime]
    log_prompts: bool

    async def serve(
        self,
        model: ClientModel,
        prepared: Routed,
        request: RouteRequest,
        outcome: Outcome,
        error: Callable[[int | None], RouteError],
        started: datetime,
    ) -> RouteResult:
        """The client's answer as the request's result; when the client fails too, `error` with every attempt.

        Raises:
            ClientDeferred: the answer comes on the client's retry (the decision so far is logged first).
            RouteError: the client could not answer either.
        """
        began, at = anyio.current_time(), self.clock()
        try:
            answer = await model(ask_for(prepared, request))
        except ClientDeferred:
            await self._finish(prepared, outcome, None)
            raise
        except Exception as failure:
            log.warning("the client's model could not answer either: %s", failure)
            detail = f"sampling failed: {type(failure).__name__}: {failure}"[:200]
            outcome.attempts.append(self._attempt("?", "error", began, at, Usage(), detail=detail))
            failed = error(await self._finish(prepared, outcome, None))
            if not any(attempt.provider == CLIENT for attempt in failed.attempts):  # nothing was tried before it
                failed.message += f"\n  - {CLIENT} (the MCP client's own model, the last resort): {detail}"
            raise failed from failure
        usage, estimated = _usage(answer, prepared.task.estimated_input_tokens)
        outcome.attempts.append(self._attempt(answer.model, "success", began, at, usage, estimated=estimated))
        decision_id = await self._finish(prepared, outcome, answer.model)
        return self._result(prepared, outcome, answer, usage, decision_id, (self.clock() - started).total_seconds())

    def _attempt(
        self,
        model: str,
        result: str,
        began: float,
        at: datetime,
        usage: Usage,
        *,
        detail: str | None = None,
        estimated: bool = False,
    ) -> AttemptRecord:
        return AttemptRecord(
            provider=CLIENT,
            model=model,
            account=CLIENT,
            outcome="success" if result == "success" else "error",
            latency_ms=(anyio.current_time() - began) * 1000.0,
            started_at=at,
            error_class=None if result == "success" else "transport",
            usage=usage,
            detail=detail,
            estimated=estimated,
        )

    async def _finish(self, prepared: Routed, outcome: Outcome, model: str | None) -> int | None:
        entry = decision_entry(
            prepared.task, prepared.decision, outcome.attempts, None, prepared.record,
            dry_run=False, log_prompts=self.log_prompts,
        )  # fmt: skip
        if model is not None:
            entry = dataclasses.replace(entry, provider=CLIENT, model=model, account=CLIENT, reason="failover")
        with anyio.CancelScope(shield=True):
            decision_id = await self.ports.bookkeeping.finish(outcome.changes, entry, None, self.clock())
        return decision_id

    def _result(
        self,
        prepared: Routed,
        outcome: Outcome,
        answer: ClientAnswer,
        usage: Usage,
        decision_id: int | None,
        latency_s: float,
    ) -> RouteResult:
        task, decision = prepared.task, prepared.decision
        return RouteResult(
            text=answer.text, provider=CLIENT, model=answer.model, account=CLIENT, reason="failover",
            confidence=decision.confidence, task_type=task.task_type, task_type_inferred=task.task_type_inferred,
            quality=task.quality, budget_mode=decision.budget_mode, usage=usage, cost_usd=0.0,
            latency_ms=round(latency_s * 1000.0, 1), attempts=tuple(Attempt.of(a) for a in outcome.attempts),
            conversation_id=prepared.record.state.id, decision_id=decision_id,
        )  # fmt: skip


def _usage(answer: ClientAnswer, estimated_input: int) -> tuple[Usage, bool]:
    """Tokens as the client reported them, else estimated (the prompt's estimate, the answer counted)."""
    inp = answer.input_tokens if answer.input_tokens is not None else estimated_input
    out = answer.output_tokens if answer.output_tokens is not None else count_text(answer.text)
    return Usage(input_tokens=inp, output_tokens=out), answer.input_tokens is None or answer.output_tokens is None
