"""`switch_provider`: the manual pin, global or per conversation, validated against the configuration and audited."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from routing.types import norm_provider
from server.views import PinView, quoted
from server.wiring import App
from storage import Pin, SwitchRecord
from storage.conversations import is_valid_id

AUTO = "auto"


class SwitchResult(BaseModel):
    """What is pinned now, and where."""

    scope: Literal["global", "conversation"]
    provider: str | None = Field(description="the pinned provider; None: automatic routing")
    model: str | None = None
    conversation_id: str | None = None
    previous: PinView | None = Field(default=None, description="the pin this one replaced")
    manual_switch: PinView | None = Field(default=None, description="the global pin in force after the change")
    message: str


def resolve_provider(app: App, name: str) -> str:
    """The configured provider id `name` refers to (aliases such as moonshot -> kimi accepted).

    Raises:
        ValueError: no configured provider matches; the message lists the configured ones.
    """
    providers = app.config.providers
    if name in providers:
        return name
    wanted = norm_provider(name)
    for provider_id in providers:
        if norm_provider(provider_id) == wanted:
            return provider_id
    known = ", ".join(providers) or "none (run `provider-router setup`)"
    raise ValueError(f"no provider {quoted(name)} is configured; configured: {known}")


def _check_model(app: App, provider: str, model: str | None) -> None:
    models = app.config.providers[provider].models
    if model is not None and model not in models:
        raise ValueError(
            f"{provider} has no model {quoted(model)} configured; its models: {', '.join(models) or 'none'}"
        )


def resolve_target(app: App, provider: str | None, model: str | None) -> tuple[str | None, str | None]:
    """A call's own `provider` / `model` pin checked against the configuration (a typo is an error, not a reroute).

    Raises:
        ValueError: the provider is not configured, or no (such) provider has the model; the message lists them.
    """
    if provider is not None:
        provider = resolve_provider(app, provider)
        _check_model(app, provider, model)
    elif model is not None and not any(model in p.models for p in app.config.providers.values()):
        known = ", ".join(sorted({m for p in app.config.providers.values() for m in p.models})) or "none"
        raise ValueError(f"no configured provider has a model {quoted(model)}; configured models: {known}")
    return provider, model


def _view(pin: Pin | None, conversation_id: str | None = None) -> PinView | None:
    if pin is None:
        return None
    return PinView(provider=pin.provider, model=pin.model, conversation_id=conversation_id, set_at=pin.set_at)


async def switch(app: App, provider: str, model: str | None, conversation_id: str | None) -> SwitchResult:
    """Pin `provider` (and `model`) for every conversation, or only for `conversation_id`; `auto` unpins.

    Raises:
        ValueError: an unknown provider, model or conversation id (the message names the valid ones or the fix).
    """
    now = app.clock()
    target = None if provider.strip().lower() == AUTO else resolve_provider(app, provider)
    if target is not None:
        _check_model(app, target, model)
    elif model is not None:
        raise ValueError("a model needs a provider: give both, or provider 'auto' alone")
    if conversation_id is not None:
        previous = await _pin_conversation(app, conversation_id, target, model)
    else:
        previous = _view(await app.conversations.global_pin())
        await app.conversations.set_global_pin(target, model, now)
    record = SwitchRecord(
        reason="manual",
        from_provider=previous.provider if previous else None,
        from_model=previous.model if previous else None,
        to_provider=target,
        to_model=model if target else None,
        conversation_id=conversation_id,
    )
    await app.decisions.record_switch(record, now)
    where = f"conversation {conversation_id}" if conversation_id else "every conversation"
    what = f"{target}/{model}" if target and model else target
    return SwitchResult(
        scope="conversation" if conversation_id else "global",
        provider=target,
        model=model if target else None,
        conversation_id=conversation_id,
        previous=previous,
        manual_switch=_view(await app.conversations.global_pin()),
        message=f"{where} now routes to {what}" if target else f"{where} is back to automatic routing",
    )


async def _pin_conversation(app: App, conversation_id: str, target: str | None, model: str | None) -> PinView | None:
    if not is_valid_id(conversation_id):
        raise ValueError("a conversation id is 1-64 letters, digits, '_' or '-' (as returned by route_and_complete)")
    now = app.clock()
    found = await app.conversations.get(conversation_id)
    if found is None:
        if target is None:
            raise ValueError(f"no conversation {conversation_id!r}; nothing to return to automatic routing")
        await app.conversations.create(now, conversation_id=conversation_id)
    previous = _view(found.pinned, conversation_id) if found else None
    await app.conversations.pin(conversation_id, target, model, now)
    return previous
