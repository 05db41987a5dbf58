"""`preferences_view` (`set_preference`, `provider-router prefer`): the preferences in force."""

from __future__ import annotations

from pydantic import Field

from providers.types import Frozen
from routing.preferences import BudgetMode, Preferences


class PreferencesView(Frozen):
    """The preferences in force. Every list is an ORDER of provider ids, never an allow-list."""

    default: str | None = None
    task_preferences: dict[str, list[str]] = Field(default_factory=dict)
    quality_preferences: dict[str, list[str]] = Field(default_factory=dict)
    budget_mode: BudgetMode
    auto_switch: bool
    switch_on_limit: bool
    preserve_context: bool
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None


def preferences_view(preferences: Preferences) -> PreferencesView:
    """The routing preferences as plain lists."""
    return PreferencesView(
        default=preferences.default,
        task_preferences={k: list(v) for k, v in preferences.task_preferences.items()},
        quality_preferences={k: list(v) for k, v in preferences.quality_preferences.items()},
        budget_mode=preferences.budget_mode,
        auto_switch=preferences.auto_switch,
        switch_on_limit=preferences.switch_on_limit,
        preserve_context=preferences.preserve_context,
        daily_budget_usd=preferences.budget.daily_usd,
        monthly_budget_usd=preferences.budget.monthly_usd,
    )
