"""Actions: switch provider / auto, reset cooldowns, budget mode — each confirmed on a second page, then written
through server.actions (the CLI's own code)."""

from __future__ import annotations

from collections.abc import Mapping

from routing.preferences import BudgetMode
from server.actions import reset, set_preference, switch
from server.web.html import attrs, esc, hidden, section, select
from server.wiring import App

ACTIONS = ("switch", "reset", "budget")
MODES: dict[str, BudgetMode] = {"free_only": "free_only", "cost_first": "cost_first", "quality_first": "quality_first"}
BUDGET_MODES = tuple(MODES)


async def forms(app: App, csrf: str) -> str:
    """The action forms of the overview (each leads to a confirmation page); the switch menu shows the provider
    every request is pinned to, else auto."""
    pin = await app.conversations.global_pin()
    pinned = pin.provider if pin is not None else "auto"
    providers = ["auto", *app.config.providers]
    if pinned not in providers:
        providers.append(pinned)
    token = hidden("csrf", csrf)
    return section(
        "Actions",
        '<div class="actions">'
        f'<form method="post" action="/actions/switch">{token}'
        f"<label>Send every request to {select('provider', providers, pinned)}</label>"
        '<button type="submit">Switch…</button></form>'
        f'<form method="post" action="/actions/reset">{token}'
        '<button type="submit">Reset cooldowns and the switch…</button></form>'
        f'<form method="post" action="/actions/budget">{token}'
        f"<label>Budget mode {select('mode', BUDGET_MODES, app.config.preferences.budget_mode)}</label>"
        '<button type="submit">Change…</button></form></div>',
        id="actions",
    )


def describe(action: str, fields: Mapping[str, str]) -> str:
    if action == "switch":
        provider = fields.get("provider", "auto")
        return "return every conversation to automatic routing" if provider == "auto" else (
            f"send every request to {provider} until you switch back to auto")  # fmt: skip
    if action == "reset":
        return "clear the manual switch, every cooldown, exhausted mark and learned limit"
    return f"set the budget mode to {fields.get('mode', '')}"


def confirmation(action: str, fields: Mapping[str, str], csrf: str) -> str:
    kept = "".join(hidden(k, v) for k, v in fields.items() if k in ("provider", "mode"))
    return (
        f"<p class='verdict'>Confirm: {esc(describe(action, fields))}?</p>"
        f'<form method="post"{attrs(action=f"/actions/{action}")}>{hidden("csrf", csrf)}{kept}'
        '<input type="hidden" name="confirm" value="yes">'
        '<button type="submit" id="confirm">Confirm</button> <a href="/">Cancel</a></form>'
    )


async def perform(app: App, action: str, fields: Mapping[str, str]) -> str:
    """Run the action; the message to show.

    Raises:
        ValueError: the input is invalid (the message names the fix).
    """
    if action == "switch":
        return (await switch(app, fields.get("provider", "auto"), None, None)).message
    if action == "reset":
        done = await reset(app)
        return f"Back to automatic routing; {done.accounts_reset} accounts' cooldowns and marks cleared."
    mode = MODES.get(fields.get("mode", ""))
    if mode is None:
        raise ValueError(f"no budget mode {fields.get('mode', '')!r}; one of: {', '.join(BUDGET_MODES)}")
    await set_preference(app, budget_mode=mode)
    return f"Budget mode is now {mode}."
