"""What a routed request returns: the answer with its route, or an error listing every attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from providers.attempts import AttemptOutcome, AttemptRecord
from providers.errors import ErrorClass
from providers.models import TaskType
from providers.types import Frozen, ToolCall, Usage
from routing.preferences import BudgetMode, QualityMode
from routing.types import Reason


# what a caller is shown of a providers.attempts.AttemptRecord (its docstring is the MCP output schema's text)
class Attempt(Frozen):
    """One try at one candidate. `skipped`: the ledger refused it before any request was sent."""

    provider: str
    model: str
    account: str
    outcome: AttemptOutcome
    error_class: ErrorClass | None = None
    latency_ms: float = 0.0
    detail: str | None = None

    @classmethod
    def of(cls, record: AttemptRecord) -> Attempt:
        """What the caller is shown of `record`: the latency to a tenth of a millisecond, no usage or cost."""
        return cls(
            provider=record.provider,
            model=record.model,
            account=record.account,
            outcome=record.outcome,
            error_class=record.error_class,
            latency_ms=round(record.latency_ms, 1),
            detail=record.detail,
        )


class RouteResult(Frozen):
    """A served request: the answer, where it went and why, what it used and cost."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    provider: str
    model: str
    account: str
    reason: Reason
    confidence: float
    task_type: TaskType
    task_type_inferred: bool = False
    quality: QualityMode | None = None
    budget_mode: BudgetMode
    usage: Usage
    cost_usd: float
    latency_ms: float
    attempts: tuple[Attempt, ...]
    conversation_id: str | None = None
    decision_id: int | None = None
    #: the conversation moved: "from -> to (why)"
    switched: str | None = None
    #: served from the response cache (reason `cache`, no upstream call, $0)
    cache_hit: bool = False


class DryRunResult(Frozen):
    """The decision without a call: ranked candidates with their scores, and every exclusion with its filter."""

    provider: str | None
    model: str | None
    account: str | None
    reason: Reason | None
    confidence: float
    task_type: TaskType
    task_type_inferred: bool
    quality: QualityMode | None
    budget_mode: BudgetMode
    estimated_input_tokens: int
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    excluded: list[dict[str, Any]] = Field(default_factory=list)
    explanation: tuple[str, ...] = ()
    error: str | None = None
    conversation_id: str | None = None
    decision_id: int | None = None


class RouteError(Exception):
    """A request that could not be served; `str()` lists what was tried and names the fix."""

    def __init__(
        self,
        message: str,
        *,
        attempts: tuple[Attempt, ...] = (),
        retry_at: datetime | None = None,
        decision_id: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.retry_at = retry_at
        self.decision_id = decision_id
        self.fix = fix

    def __str__(self) -> str:
        lines = [self.message]
        lines.extend(
            f"  - {a.provider}/{a.model} @ {a.account}: {a.outcome}"
            + (f" ({a.error_class})" if a.error_class else "")
            + (f": {a.detail}" if a.detail else "")
            for a in self.attempts
        )
        if self.retry_at is not None:
            lines.append(f"Something frees up at {self.retry_at.isoformat(timespec='seconds')}.")
        if self.fix:
            lines.append(f"Fix: {self.fix}")
        return "\n".join(lines)


class InvalidRequestError(RouteError):
    """The provider rejected the request itself; trying elsewhere would repeat the rejection."""


class InvalidOutputError(RouteError):
    """No answer was valid against the request's `json_schema`; the message shows what failed validation."""


class NoRouteAvailable(RouteError):
    """Every candidate failed or was refused."""
