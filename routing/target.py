"""The target of decide() (README "2. The target: pins and conversations"): a pin, the conversation's provider
when it must stay, or none; and the error when a target cannot serve and may not be left. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from providers.models import TaskType
from providers.values import read_only_hashable
from routing.preferences import Preferences
from routing.score import Evaluation, Group
from routing.types import (
    LIMIT_FILTERS,
    CandidateState,
    ConversationState,
    DecisionError,
    ErrorKind,
    Filter,
    ManualSwitch,
    SwitchWhy,
    Task,
    norm_provider,
)

#: Below this classifier confidence an inferred task type change does not unstick a conversation.
TASK_CHANGE_MIN_CONFIDENCE = 0.5
#: Task type changes that do not unstick a conversation (the same kind of model serves both).
_RELATED_TYPES: frozenset[frozenset[TaskType]] = frozenset({frozenset({"coding", "reasoning"})})


def significant_change(previous: TaskType | None, task: Task) -> bool:
    """Whether a conversation's task type changed enough to reconsider its provider."""
    if previous is None or previous == task.task_type:
        return False
    if frozenset({previous, task.task_type}) in _RELATED_TYPES:
        return False
    return not task.task_type_inferred or task.task_type_confidence >= TASK_CHANGE_MIN_CONFIDENCE


@read_only_hashable
class Target:
    prov: str
    model: str | None
    kind: str  # "pin" | "sticky" | "policy"
    returning: bool = False


def effective_pin(task: Task, conversation: ConversationState | None, manual: ManualSwitch | None) -> Target | None:
    if task.provider or task.model:
        return Target(norm_provider(task.provider) if task.provider else "", task.model, "pin")
    pin = conversation.pin if conversation is not None else None
    if pin is None and manual is not None and manual.conversation_id in (None, task.conversation_id):
        pin = manual
    return Target(norm_provider(pin.provider), pin.model, "pin") if pin is not None else None


def standing_in(target: Target, candidates: Sequence[CandidateState]) -> Target:
    """A target naming a configured model that has retired: its replacement, which routes in its place."""
    for c in candidates:
        if c.substituted_for == target.model and (not target.prov or norm_provider(c.provider) == target.prov):
            return Target(target.prov, c.model.id, target.kind, target.returning)
    return target


def model_pin(target: Target, groups: list[Group]) -> Target:
    """A pin naming only a model: the provider of the best group offering that model."""
    for g in groups:
        if g.model == target.model:
            return Target(g.prov, target.model, "pin")
    return target


def conversation_target(
    conversation: ConversationState | None, task: Task, prefs: Preferences, groups: list[Group]
) -> tuple[Target | None, SwitchWhy | None]:
    """The provider a conversation must stay on (None: free to move, with why)."""
    if conversation is None or conversation.current_provider is None:
        return None, None
    if conversation.history_tokens < prefs.switch_threshold_tokens:
        return None, "small_history"
    if significant_change(conversation.last_task_type, task):
        return None, "task_type"
    current = norm_provider(conversation.current_provider)
    preferred = norm_provider(conversation.preferred_provider) if conversation.preferred_provider else current
    if preferred != current and any(g.prov == preferred and g.survivors for g in groups):
        return Target(preferred, conversation.preferred_model, "sticky", returning=True), None
    return Target(current, conversation.current_model, "sticky"), None


def filters_of_target(target: Target, evals: list[Evaluation]) -> set[Filter]:
    return {e.filter for e in evals if e.prov == target.prov and e.filter is not None}


def blocked(target: Target, evals: list[Evaluation], prefs: Preferences) -> DecisionError | None:
    """The error when the target cannot serve and the preferences forbid moving on; None when moving is allowed."""
    mine = [e for e in evals if e.prov == target.prov and e.filter is not None]
    filters = {e.filter for e in mine if e.filter is not None}
    limit_only = bool(filters) and filters <= LIMIT_FILTERS
    if prefs.auto_switch and (prefs.switch_on_limit or not limit_only):
        return None
    why = "; ".join(f"{e.c.account}: {e.filter}" for e in mine[:3]) or "no such provider or model is configured"
    if limit_only and prefs.auto_switch:
        fix = "wait for the reset, or set switchOnLimit to true to route around limits"
    elif target.kind == "pin":
        fix = "switch_provider to another provider, or set autoSwitch to true"
    else:
        fix = "set autoSwitch to true to fail over"
    kind: ErrorKind = "limit" if limit_only else "unavailable"
    name = target.prov or target.model or "?"
    return DecisionError(kind, name, tuple(sorted(filters)), f"{name} cannot serve ({why}); {fix}")
