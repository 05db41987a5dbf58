"""`decision_log` and `decision_detail` (router://decisions, `provider-router log`): why each request went where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import Field

from providers.attempts import AttemptRecord
from providers.types import Frozen, Usage
from server.wiring import App
from server.wiring.identity import visible_member
from storage import LoggedDecision


class AttemptView(Frozen):
    provider: str
    model: str
    account: str
    outcome: str
    error_class: str | None = None
    latency_ms: float
    started_at: datetime
    usage: Usage
    cost_usd: float
    usage_estimated: bool = Field(default=False, description="the provider reported no usage: settled at the estimate")


class DecisionSummary(Frozen):
    id: int
    created_at: datetime
    task_summary: str
    task_type: str | None = None
    quality: str | None = None
    provider: str | None = None
    model: str | None = None
    account: str | None = None
    reason: str | None = None
    confidence: float | None = None
    conversation_id: str | None = None
    dry_run: bool = False
    served: bool = Field(description="an attempt succeeded")
    failover: bool = Field(description="more than one candidate was called")
    cost_usd: float
    attempts: list[AttemptView] = Field(default_factory=list)
    #: the configured model had retired and this one routed in its place: "<old> retired <date> → <new>"
    substitution: str | None = None


class DecisionDetail(DecisionSummary):
    """One decision with the ranked candidates (scores explained) and every exclusion with its filter."""

    candidates: list[dict[str, Any]] = Field(default_factory=list)
    exclusions: list[dict[str, Any]] = Field(default_factory=list)
    explanation: list[str] = Field(default_factory=list)
    switch: dict[str, Any] | None = None
    #: only when the user enabled settings.logPrompts
    prompt: str | None = None


class SwitchView(Frozen):
    id: int
    created_at: datetime
    reason: str
    from_provider: str | None = None
    from_model: str | None = None
    to_provider: str | None = None
    to_model: str | None = None
    conversation_id: str | None = None
    decision_id: int | None = None


class DecisionLogView(Frozen):
    decisions: list[DecisionSummary] = Field(default_factory=list)
    switches: list[SwitchView] = Field(default_factory=list)


def _attempt_view(a: AttemptRecord) -> AttemptView:
    return AttemptView(
        provider=a.provider,
        model=a.model,
        account=a.account,
        outcome=a.outcome,
        error_class=a.error_class,
        latency_ms=round(a.latency_ms, 1),
        started_at=a.started_at,
        usage=a.usage,
        cost_usd=round(a.cost_usd, 9),
        usage_estimated=a.estimated,
    )


def _summary_fields(logged: LoggedDecision) -> dict[str, Any]:
    r = logged.record
    return {
        "id": logged.id,
        "created_at": logged.created_at,
        "task_summary": r.task_summary,
        "task_type": r.task_type,
        "quality": r.quality,
        "provider": r.provider,
        "model": r.model,
        "account": r.account,
        "reason": r.reason,
        "confidence": r.confidence,
        "conversation_id": r.conversation_id,
        "dry_run": r.dry_run,
        "served": any(a.outcome == "success" for a in logged.attempts),
        "failover": len(logged.attempts) > 1,
        "cost_usd": round(sum(a.cost_usd for a in logged.attempts), 9),
        "attempts": [_attempt_view(a) for a in logged.attempts],
        "substitution": _substitution(r.candidates, r.provider, r.model),
    }


def _substitution(candidates: Sequence[Mapping[str, Any]], provider: str | None, model: str | None) -> str | None:
    """The substitution note of the candidate the decision routed to (logged with the ranked candidates)."""
    for candidate in candidates:
        if candidate.get("provider") == provider and candidate.get("model") == model:
            note = candidate.get("substitution")
            return note if isinstance(note, str) else None
    return None


async def decision_log(
    app: App,
    limit: int = 20,
    *,
    conversation_id: str | None = None,
    provider: str | None = None,
    task_type: str | None = None,
    reason: str | None = None,
    outcome: str | None = None,
    member: str | None = None,
) -> DecisionLogView:
    """The latest decisions, newest first, with their attempts, and the latest provider switches; the filters
    narrow the decisions (`outcome`: served, failover, failed or refused; `member`: one team member's, and only
    the viewer's own when a team member who is not an admin asks).

    Raises:
        ValueError: an unknown outcome (the message lists them).
    """
    limit = max(1, min(limit, 500))
    member = visible_member() or member
    decisions = await app.decisions.recent(
        limit, conversation_id=conversation_id, provider=provider, task_type=task_type, reason=reason,
        outcome=outcome, member=member,
    )  # fmt: skip
    switches = await app.decisions.switches(limit, conversation_id=conversation_id)
    if member is not None:
        theirs = {d.id for d in decisions}
        switches = [s for s in switches if s.record.decision_id in theirs]
    return DecisionLogView(
        decisions=[DecisionSummary(**_summary_fields(d)) for d in decisions],
        switches=[SwitchView(id=s.id, created_at=s.created_at, **asdict(s.record)) for s in switches],
    )


async def decision_detail(app: App, decision_id: int) -> DecisionDetail | None:
    """One decision with candidates, exclusions, explanation and attempts; None when there is no such decision."""
    logged = await app.decisions.get(decision_id, member=visible_member())
    if logged is None:
        return None
    r = logged.record
    scores = dict(r.scores)
    explanation = scores.get("explanation")
    switch = scores.get("switch")
    return DecisionDetail(
        **_summary_fields(logged),
        candidates=[dict(c) for c in r.candidates],
        exclusions=[dict(e) for e in r.exclusions],
        explanation=[str(line) for line in explanation] if isinstance(explanation, list) else [],
        switch=dict(switch) if isinstance(switch, dict) else None,
        prompt=r.prompt if app.config.settings.log_prompts else None,
    )
