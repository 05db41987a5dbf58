"""Why the chosen candidate won and how confident the choice is (README "4. Reason" and "5. Confidence"). Pure."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from routing.preferences import BudgetMode
from routing.score import Group
from routing.types import LIMIT_FILTERS, Filter, Reason, SwitchWhy, Task, Tiers

#: A score margin this large between the first two groups gives full confidence.
CONFIDENT_MARGIN = 0.15


def filters_reason(filters: AbstractSet[Filter]) -> Reason:
    if filters & {"budget_mode", "max_cost"}:
        return "cost"
    if "context" in filters:
        return "context"
    if "latency" in filters:
        return "latency"
    if filters & LIMIT_FILTERS:
        return "limit"
    return "failover"


def switch_why(filters: set[Filter]) -> SwitchWhy:
    if filters & LIMIT_FILTERS:
        return "limit"
    if "unhealthy" in filters:
        return "failing"
    if "context" in filters:
        return "context"
    return "unavailable"


_PART_REASON: dict[str, Reason] = {
    "quality": "quality",
    "preference": "quality",
    "cost": "cost",
    "latency": "latency",
    "speed": "latency",
    "headroom": "limit",
}


def _mode_reason(task: Task, budget_mode: BudgetMode) -> Reason:
    by_quality: dict[str, Reason] = {"max_speed": "latency", "max_quality": "quality", "max_context": "context"}
    if task.quality in by_quality:
        return by_quality[task.quality]
    return "cost" if budget_mode in ("cost_first", "free_only") else "preference"


def _tier_reason(a: Tiers, b: Tiers) -> Reason | None:
    """The reason of the first tier, in precedence order, on which `a` and `b` differ (None: they tie)."""
    if a.target != b.target or a.quality_list != b.quality_list:
        return "preference"
    if a.cost_list != b.cost_list:
        return "cost"
    if a.context_window != b.context_window:
        return "context"
    if a.task_list != b.task_list or a.default != b.default:
        return "preference"
    return None


def decided_by(first: Group, runner_up: Group | None, task: Task, budget_mode: BudgetMode) -> tuple[Reason, float]:
    """Which tier or score part put `first` ahead of `runner_up`, and how decisively (0.5..1)."""
    if runner_up is None:
        return _mode_reason(task, budget_mode), 1.0
    if first.key[1:3] != runner_up.key[1:3]:  # de-ranked, or max_speed's predicted completion (routing.latency)
        return "latency", 1.0
    tier = _tier_reason(first.tiers, runner_up.tiers)
    if tier is not None:
        return tier, 1.0
    diffs = {
        name: (getattr(first.score, name) - getattr(runner_up.score, name)) * w
        for name, w in first.score.weights.items()
    }
    part = max(diffs, key=lambda name: diffs[name])
    margin = first.score.total - runner_up.score.total
    decisiveness = 0.5 + 0.5 * min(1.0, max(0.0, margin) / CONFIDENT_MARGIN)
    return (_PART_REASON[part] if diffs[part] > 0 else _mode_reason(task, budget_mode)), decisiveness
