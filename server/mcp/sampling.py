"""The client's own model as the router's last resort (`sampling/createMessage`), over either MCP protocol era.

A client that negotiated 2026-07-28 or later is asked through an `InputRequiredResult`: the call returns the
sampling request, the client answers it and retries the call with the answer in `input_responses` (its SDK does
this by itself); an older client is sent the request mid-call over the session's back-channel. A client that
did not declare `sampling` gets no `ClientModel`, so the router's error stays what it was.
"""

from __future__ import annotations

import warnings
from typing import Any

from mcp.server.mcpserver import Context
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    InputRequest,
    InputRequiredResult,
    ModelPreferences,
    SamplingMessage,
    TextContent,
)

from routing.fallback import ClientAnswer, ClientAsk, ClientDeferred, ClientModel, priorities

#: the key of the sampling request in `input_requests` / `input_responses`
SAMPLING_KEY = "provider-router/sampling-fallback"
#: the first protocol revision that asks through InputRequiredResult
INPUT_REQUIRED_VERSION = "2026-07-28"


def client_model(ctx: Context[Any, Any]) -> ClientModel | None:
    """The client's model, or None when the client did not declare the `sampling` capability."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        return None
    version = ctx.protocol_version
    if version is not None and version >= INPUT_REQUIRED_VERSION:
        return _InputRound(ctx)
    return _BackChannel(ctx)


def input_required(deferred: ClientDeferred, others: dict[str, InputRequest]) -> InputRequiredResult:
    """The result that hands the sampling request to a 2026-07-28 client (it retries the call with the answer);
    `others` are the call's other requests, asked again so that the retry carries every answer."""
    assert isinstance(deferred.payload, CreateMessageRequest)
    return InputRequiredResult(input_requests={**others, SAMPLING_KEY: deferred.payload})


def sampling_params(ask: ClientAsk) -> CreateMessageRequestParams:
    """`sampling/createMessage` for `ask`: the same system and turns, preferences from the task type and modes."""
    wanted = priorities(ask.task_type, ask.quality, ask.budget_mode)
    turns = [
        SamplingMessage(role="assistant" if m.role == "assistant" else "user", content=TextContent(text=m.content))
        for m in ask.messages
        if m.content
    ]
    return CreateMessageRequestParams(
        messages=turns,
        system_prompt=ask.system,
        max_tokens=ask.max_output_tokens,
        temperature=ask.temperature,
        model_preferences=ModelPreferences(
            cost_priority=wanted.cost, speed_priority=wanted.speed, intelligence_priority=wanted.intelligence
        ),
        include_context="none",
    )


def answer_of(result: CreateMessageResult) -> ClientAnswer:
    """The client's answer: its text and model. A non-text answer is refused (the router returns text), and so is
    an empty one: a last resort that says nothing must not pass for a served request (and a $0 success)."""
    content = result.content
    if not isinstance(content, TextContent):
        raise ValueError(f"the client's model answered with {type(content).__name__}, not text")
    if not content.text.strip():
        raise ValueError("the client's model answered with empty text")
    usage = (result.meta or {}).get("usage") if result.meta else None
    inp = out = None
    if isinstance(usage, dict):
        inp = _count(usage.get("inputTokens", usage.get("input_tokens")))
        out = _count(usage.get("outputTokens", usage.get("output_tokens")))
    return ClientAnswer(text=content.text, model=result.model or "unknown", input_tokens=inp, output_tokens=out)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class _BackChannel:
    """Pre-2026-07-28: `sampling/createMessage` sent mid-call."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx

    async def __call__(self, ask: ClientAsk) -> ClientAnswer:
        params = sampling_params(ask)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated in 2026-07-28; this is the older protocol's way
            result = await self._ctx.session.create_message(
                params.messages,
                max_tokens=params.max_tokens,
                system_prompt=params.system_prompt,
                temperature=params.temperature,
                model_preferences=params.model_preferences,
                include_context=params.include_context,
                related_request_id=self._ctx.request_id,
            )
        return answer_of(result)


class _InputRound:
    """2026-07-28 and later: the answer is in the retried call's `input_responses`, else it is asked for."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx

    async def __call__(self, ask: ClientAsk) -> ClientAnswer:
        answer = (self._ctx.input_responses or {}).get(SAMPLING_KEY)
        if answer is None:
            raise ClientDeferred(CreateMessageRequest(params=sampling_params(ask)))
        wire = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        return answer_of(CreateMessageResult.model_validate(wire))
