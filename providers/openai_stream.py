"""Chat Completions stream chunks assembled into deltas and one `Completion`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from providers.openai_reply import (
    Malformed,
    Truncated,
    content_text,
    finish_reason_of,
    map_usage,
    raise_inline_error,
    reasoning_of,
    reported_cost,
    tool_call_id,
)
from providers.openai_request import Json
from providers.sse import loads_json
from providers.types import Completion, RateLimits, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta, Usage

Delta = TextDelta | ReasoningDelta | ToolCallDelta


#: `isinstance(x, _MAP)` is `isinstance(x, Mapping)`, answered at once for the dicts JSON decodes to (the ABC's
#: check costs ~0.12 µs, several times per event of every stream)
_MAP = (dict, Mapping)


class _Chunk(NamedTuple):
    """What one `chat.completion.chunk` carries for the first choice (a named tuple: immutable, and built in half
    the time of a frozen dataclass, once per event)."""

    reasoning: str = ""
    text: str = ""
    tool_calls: tuple[Json, ...] = ()
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    model: str | None = None


def parse_chunk(data: Any) -> _Chunk:
    """One decoded SSE `data:` payload -> its parts; an `error` object inside a 200 stream is raised."""
    raise_inline_error(data)
    if not isinstance(data, _MAP):
        raise Malformed("stream chunk is not a JSON object")
    usage = data.get("usage")
    model = data.get("model")
    # None first: most events carry no usage, and `isinstance(None, Mapping)` asks the ABC
    if usage is not None and not isinstance(usage, _MAP):
        usage = None
    model = model if isinstance(model, str) else None
    choices = data.get("choices")
    # the usage-only chunk before [DONE] has `choices: []`; other servers put usage on any chunk
    first = next((c for c in choices if isinstance(c, _MAP) and c.get("index", 0) == 0), None) if choices else None
    if first is None:
        return _Chunk(usage=usage, model=model)
    delta = first.get("delta")
    delta = delta if isinstance(delta, _MAP) else {}
    calls = delta.get("tool_calls")
    finish = first.get("finish_reason")
    # Moonshot streams its usage inside the finishing choice rather than at the top level
    choice_usage = first.get("usage")
    if usage is None and choice_usage is not None and isinstance(choice_usage, _MAP):
        usage = choice_usage
    # one _Chunk per event, on every event of every stream
    return _Chunk(
        reasoning=reasoning_of(delta),
        text=content_text(delta.get("content")),
        tool_calls=tuple(dict(c) for c in calls if isinstance(c, _MAP)) if isinstance(calls, list) else (),
        finish_reason=finish if isinstance(finish, str) else None,
        usage=usage,
        model=model,
    )


@dataclass
class _PartialCall:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list[str])


@dataclass
class StreamState:
    """Assembles chunks into the final Completion while turning them into normalised deltas."""

    model: str
    text: list[str] = field(default_factory=list[str])
    reasoning: list[str] = field(default_factory=list[str])
    calls: dict[int, _PartialCall] = field(default_factory=dict[int, _PartialCall])
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    done: bool = False

    def apply(self, chunk: _Chunk) -> list[Delta]:
        events: list[Delta] = []
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage  # servers that repeat usage on every chunk send it cumulatively: keep the last
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        if chunk.reasoning:
            self.reasoning.append(chunk.reasoning)
            events.append(ReasoningDelta(text=chunk.reasoning))
        if chunk.text:
            self.text.append(chunk.text)
            events.append(TextDelta(text=chunk.text))
        events.extend(self._tool_call(raw) for raw in chunk.tool_calls)
        return events

    def _tool_call(self, raw: Json) -> ToolCallDelta:
        function = raw.get("function")
        function = function if isinstance(function, _MAP) else {}
        call_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
        name = function.get("name") if isinstance(function.get("name"), str) and function.get("name") else None
        index = raw.get("index")
        if not isinstance(index, int):
            # without an index, a fragment naming a call starts a new one; a bare one continues the last
            index = max(self.calls, default=-1) + 1 if (call_id or name or not self.calls) else max(self.calls)
        partial = self.calls.setdefault(index, _PartialCall())
        # several servers repeat id and name on every fragment: announce each once, never concatenate them
        new_id = call_id if call_id and partial.id is None else None
        new_name = name if name and partial.name is None else None
        partial.id = partial.id or new_id
        partial.name = partial.name or new_name
        arguments = function.get("arguments")
        fragment = arguments if isinstance(arguments, str) else json.dumps(arguments) if arguments else ""
        partial.arguments.append(fragment)
        return ToolCallDelta(index=index, id=new_id, name=new_name, arguments=fragment)

    def completion(self, rate_limits: RateLimits) -> Completion:
        if self.finish_reason is None and not self.done:
            raise Truncated("truncated stream: it ended before a finish_reason or [DONE]")
        tool_calls = tuple(
            ToolCall(id=tool_call_id(c.id), name=c.name or "", arguments="".join(c.arguments) or "{}")
            for _, c in sorted(self.calls.items())
        )
        usage = map_usage(self.usage)
        return Completion(
            text="".join(self.text),
            tool_calls=tool_calls,
            finish_reason=finish_reason_of(self.finish_reason, bool(tool_calls)),
            raw_finish_reason=self.finish_reason,
            usage=usage or Usage(),
            usage_missing=usage is None,
            model=self.model,
            reasoning="".join(self.reasoning) or None,
            rate_limits=rate_limits,
            reported_cost_usd=reported_cost(self.usage),
        )


def decode(text: str, what: str, status_code: int = 200) -> Any:
    try:
        return loads_json(text)
    except ValueError as e:
        raise Malformed(f"malformed {what}: not JSON", status_code) from e


def deltas_of(completion: Completion) -> list[Delta]:
    events: list[Delta] = [ReasoningDelta(text=completion.reasoning)] if completion.reasoning else []
    if completion.text:
        events.append(TextDelta(text=completion.text))
    events.extend(
        ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments) for i, c in enumerate(completion.tool_calls)
    )
    return events
