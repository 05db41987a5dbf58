"""From a decision and its attempts to the decision-log entry and the caller's result (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from providers.attempts import AttemptRecord
from routing.outcome import Outcome, Served
from routing.ports import ConversationRecord, DecisionLogEntry
from routing.results import Attempt, DryRunResult, RouteResult
from routing.types import Decision, Reason, Task, decision_to_dict


def task_summary(task: Task) -> str:
    """What was asked, without the prompt: type (and how it was known), size, needs."""
    how = "given"
    if task.task_type_inferred:
        features = ", ".join(task.classification.features[:3]) if task.classification else ""
        how = f"inferred{f' from {features}' if features else ''}"
    parts = [f"{task.task_type} ({how})", f"~{task.estimated_input_tokens:,} input tokens"]
    if task.quality:
        parts.append(f"quality {task.quality}")
    if task.needs:
        parts.append("needs " + "/".join(sorted(task.needs)))
    if task.files:
        parts.append("files " + ", ".join(f"{path} (~{count:,} tokens)" for path, count in task.files))
    if task.image_tokens:
        parts.append(f"images ~{max(task.image_tokens.values()):,} tokens")
    parts.append(f"{len(task.messages)} message(s)")
    return "; ".join(parts)


def _prompt_text(task: Task) -> str:
    turns = [f"[system] {task.system}"] if task.system else []
    turns.extend(f"[{m.role}] {m.content}" for m in task.messages)
    return "\n".join(turns)


def served_reason(decision: Decision, served: Served | None, attempts: Sequence[AttemptRecord]) -> Reason | None:
    """The decision's reason, or `failover` when the request was served only after an attempt failed or the
    ledger refused one (another account of a pool taking its turn in rotation is not a failover)."""
    if served is not None and any(a.outcome in ("error", "skipped") for a in attempts):
        return "failover"
    return decision.reason


def _switch(
    decision: Decision, record: ConversationRecord, served: Served | None
) -> tuple[str, str | None, str, str, str] | None:
    if served is None or not record.exists:
        return None
    previous = record.state.current_provider
    to = served.ranked
    if previous is not None and previous == to.provider:
        return None  # the request went back to where the conversation already was (a failover home)
    if decision.switch is not None:
        s = decision.switch
        why = s.why if to.provider == s.to_provider else "failover"
        return (s.from_provider, s.from_model, to.provider, to.model, why)
    if previous is not None and previous != to.provider:
        return (previous, record.state.current_model, to.provider, to.model, "failover")
    return None


def decision_entry(
    task: Task,
    decision: Decision,
    attempts: Sequence[AttemptRecord],
    served: Served | None,
    record: ConversationRecord,
    *,
    dry_run: bool,
    log_prompts: bool,
) -> DecisionLogEntry:
    where = served.ranked if served is not None else decision.chosen
    return DecisionLogEntry(
        task_summary=task_summary(task),
        decision=decision_to_dict(decision),
        attempts=tuple(attempts),
        provider=where.provider if where else None,
        model=where.model if where else None,
        account=where.account if where else None,
        reason=served_reason(decision, served, attempts),
        confidence=decision.confidence,
        task_type=task.task_type,
        quality=task.quality,
        conversation_id=record.state.id,
        dry_run=dry_run,
        prompt=_prompt_text(task) if log_prompts else None,
        switch=_switch(decision, record, served),
    )


def dry_run_result(decision: Decision, conversation_id: str, decision_id: int | None) -> DryRunResult:
    data = decision_to_dict(decision)
    chosen = decision.chosen
    return DryRunResult(
        provider=chosen.provider if chosen else None,
        model=chosen.model if chosen else None,
        account=chosen.account if chosen else None,
        reason=decision.reason,
        confidence=decision.confidence,
        task_type=decision.task_type,
        task_type_inferred=decision.task_type_inferred,
        quality=decision.quality,
        budget_mode=decision.budget_mode,
        estimated_input_tokens=decision.estimated_input_tokens,
        candidates=list(data.get("ranked", [])),
        excluded=list(data.get("excluded", [])),
        explanation=decision.explanation,
        error=decision.error.message if decision.error else None,
        conversation_id=conversation_id,
        decision_id=decision_id,
    )


def route_result(
    task: Task,
    decision: Decision,
    outcome: Outcome,
    entry: DecisionLogEntry,
    decision_id: int | None,
    latency_s: float,
) -> RouteResult:
    served = outcome.served
    assert served is not None
    completion = served.completion
    switched = entry.switch
    return RouteResult(
        text=completion.text,
        tool_calls=completion.tool_calls,
        finish_reason=completion.finish_reason,
        provider=served.ranked.provider,
        model=served.ranked.model,
        account=served.ranked.account,
        reason=served_reason(decision, served, outcome.attempts) or "preference",
        confidence=decision.confidence,
        task_type=task.task_type,
        task_type_inferred=task.task_type_inferred,
        quality=task.quality,
        budget_mode=decision.budget_mode,
        usage=completion.usage,
        cost_usd=served.cost_usd,
        latency_ms=round(latency_s * 1000.0, 1),
        attempts=tuple(Attempt.of(attempt) for attempt in outcome.attempts),
        conversation_id=entry.conversation_id,
        decision_id=decision_id,
        switched=f"{switched[0]} -> {switched[2]} ({switched[4]})" if switched else None,
    )
