"""`set_preference`: one routing preference order, the default provider or the budget mode written to
providers.json (comments kept, the previous file backed up) and in force at once."""

from __future__ import annotations

import functools
from typing import Literal

import anyio.to_thread
from pydantic import BaseModel, Field

from providers.models import TaskType
from routing.preferences import BudgetMode
from server.actions.switch import resolve_provider
from server.config import Edit, budget_mode_edit, preference_edits, write_config_edits
from server.views import PreferencesView, preferences_view
from server.wiring import App

Quality = Literal["max_speed", "balanced", "max_quality", "max_context", "cost_first"]


class PreferenceResult(BaseModel):
    preferences: PreferencesView = Field(description="the preferences now in force")
    config_file: str
    backup: str | None = Field(default=None, description="the copy of the previous providers.json")
    changed: bool
    warnings: list[str] = Field(default_factory=list)


def _configured(app: App, names: list[str]) -> list[str]:
    # an order names each provider once: a repeated name (or an alias of one already given) adds nothing
    return list(dict.fromkeys(resolve_provider(app, name) for name in names))


def _edits(
    app: App,
    providers: list[str] | None,
    task_type: TaskType | None,
    quality: Quality | None,
    default: bool | str,
    budget_mode: BudgetMode | None,
) -> list[Edit]:
    if isinstance(default, str):
        if providers not in (None, [default]):
            raise ValueError("name the default provider once: default=<id>, or default=true with providers=[<id>]")
        providers, default = [default], True
    edits = [budget_mode_edit(budget_mode)] if budget_mode else []
    if providers is not None or task_type or quality or default:
        if sum((task_type is not None, quality is not None, default)) != 1:
            raise ValueError("say which order to set: exactly one of task_type, quality or default=true")
        edits += preference_edits(_configured(app, providers or []), task_type=task_type, quality=quality)
    if not edits:
        raise ValueError("nothing to change: give providers with task_type, quality or default, or budget_mode")
    return edits


async def set_preference(
    app: App,
    *,
    providers: list[str] | None = None,
    task_type: TaskType | None = None,
    quality: Quality | None = None,
    default: bool | str = False,
    budget_mode: BudgetMode | None = None,
) -> PreferenceResult:
    """Write the change and apply it to `app`; `default` is True (`providers` names one) or the provider's id.

    Raises:
        ValueError: nothing or too much to change, or a provider that is not configured (the message says which).
        ConfigError: the edit would make providers.json invalid (the file is left as it was).
    """
    edits = _edits(app, providers, task_type, quality, default, budget_mode)
    # in a worker thread: the write waits for providers.json's lock while another process edits it
    write = functools.partial(write_config_edits, app.paths, edits, app.environ, now=app.clock())
    written = await anyio.to_thread.run_sync(write)
    # the file as it is now: it holds this edit and any another process made since (a newer one must not be undone)
    app.refresh(force=True)
    if app.config_error is not None:
        app.config_error = None
        app.apply(written.config)
    return PreferenceResult(
        preferences=preferences_view(app.config.preferences),
        config_file=str(written.path),
        backup=str(written.backup) if written.backup else None,
        changed=written.changed,
        warnings=list(written.config.warnings),
    )
