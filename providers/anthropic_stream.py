"""A Messages SSE stream assembled into deltas and one `Completion`, event by event."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.anthropic_reply import finish_reason, map_usage
from providers.sse import loads_json
from providers.types import (
    Completion,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)


class _StreamFault(Exception):
    """A problem found while reading a response; `_map_errors` turns it into a `ProviderError`."""


class Malformed(_StreamFault):
    pass


class Truncated(_StreamFault):
    pass


class ErrorEvent(_StreamFault):
    def __init__(self, payload: Mapping[str, Any], data: str) -> None:
        super().__init__("error event")
        self.payload = payload
        self.data = data


@dataclass
class _Block:
    kind: str
    parts: list[str] = field(default_factory=list[str])
    tool_index: int = -1
    tool_id: str = ""
    tool_name: str = ""
    start_input: Any = None

    @property
    def arguments(self) -> str:
        joined = "".join(self.parts)
        # tool_use starts with `input: {}` and streams the real object as input_json_delta fragments
        return joined if joined.strip() else json.dumps(self.start_input or {})


@dataclass
class StreamState:
    """What a stream has said so far; `completion()` assembles the final answer."""

    model: str
    usage: dict[str, Any] = field(default_factory=dict[str, Any])
    blocks: dict[int, _Block] = field(default_factory=dict[int, _Block])
    tool_count: int = 0
    stop_reason: str | None = None
    stopped: bool = False

    def completion(self, rate_limits: RateLimits) -> Completion:
        if not self.stopped and self.stop_reason is None:
            raise Truncated("the stream ended before message_stop")
        blocks = list(self.blocks.values())
        usage = map_usage(self.usage)
        return Completion(
            text="".join("".join(block.parts) for block in blocks if block.kind == "text"),
            tool_calls=tuple(
                ToolCall(id=block.tool_id, name=block.tool_name, arguments=block.arguments)
                for block in blocks
                if block.kind == "tool_use"
            ),
            finish_reason=finish_reason(self.stop_reason),
            raw_finish_reason=self.stop_reason,
            usage=usage or Usage(),
            usage_missing=usage is None,
            model=self.model,
            reasoning="".join("".join(block.parts) for block in blocks if block.kind == "thinking") or None,
            rate_limits=rate_limits,
        )


def _merge_usage(state: StreamState, usage: object) -> None:
    # message_delta usage is cumulative: later values replace earlier ones, and nulls say nothing
    if isinstance(usage, dict):
        state.usage.update({key: value for key, value in usage.items() if value is not None})


def _on_message_start(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    message = payload.get("message")
    if isinstance(message, dict):
        if isinstance(message.get("model"), str) and message["model"]:
            state.model = message["model"]
        _merge_usage(state, message.get("usage"))
    return []


def _block_index(payload: Mapping[str, Any]) -> int:
    index = payload.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise Malformed(f"{payload.get('type')} without an integer index")
    return index


def _on_block_start(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    index = _block_index(payload)
    start = payload.get("content_block")
    start = start if isinstance(start, dict) else {}
    kind = str(start.get("type") or "")
    block = _Block(kind=kind)
    state.blocks[index] = block
    if kind == "tool_use":
        block.tool_index, state.tool_count = state.tool_count, state.tool_count + 1
        block.tool_id, block.tool_name = str(start.get("id") or ""), str(start.get("name") or "")
        block.start_input = start.get("input")
        return [ToolCallDelta(index=block.tool_index, id=block.tool_id, name=block.tool_name)]
    initial = start.get("text") if kind == "text" else start.get("thinking") if kind == "thinking" else None
    return _append(block, initial)


def _append(block: _Block, text: object) -> list[StreamEvent]:
    if not isinstance(text, str) or not text:
        return []
    block.parts.append(text)
    if block.kind == "text":
        return [TextDelta(text=text)]
    if block.kind == "thinking":
        return [ReasoningDelta(text=text)]
    return [ToolCallDelta(index=block.tool_index, arguments=text)]


#: delta type -> (the block kind it belongs to, the field holding its text); signature_delta and others are
#: deliberately absent: they carry nothing the router keeps
_DELTA_FIELDS: dict[str, tuple[str, str]] = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("tool_use", "partial_json"),
}


def _on_block_delta(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    index = _block_index(payload)
    block = state.blocks.get(index)
    if block is None:
        raise Malformed(f"content_block_delta for block {index}, which never started")
    delta = payload.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    kind_and_field = _DELTA_FIELDS.get(str(delta.get("type")))
    if kind_and_field is None or kind_and_field[0] != block.kind:
        return []
    return _append(block, delta.get(kind_and_field[1]))


def _on_block_stop(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    block = state.blocks.get(_block_index(payload))
    if block is not None and block.kind == "tool_use" and not "".join(block.parts).strip() and block.start_input:
        # a compatible server may send the whole input at block start and no fragments
        return [ToolCallDelta(index=block.tool_index, arguments=block.arguments)]
    return []


def _on_message_delta(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    delta = payload.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
        state.stop_reason = delta["stop_reason"]
    _merge_usage(state, payload.get("usage"))
    return []


def _on_message_stop(state: StreamState, payload: Mapping[str, Any]) -> list[StreamEvent]:
    state.stopped = True
    return []


_HANDLERS: dict[str, Callable[[StreamState, Mapping[str, Any]], list[StreamEvent]]] = {
    "message_start": _on_message_start,
    "content_block_start": _on_block_start,
    "content_block_delta": _on_block_delta,
    "content_block_stop": _on_block_stop,
    "message_delta": _on_message_delta,
    "message_stop": _on_message_stop,
}


def parse_sse_event(state: StreamState, event: str, data: str) -> list[StreamEvent]:
    """Fold one server-sent event into `state`, returning the deltas it carries.

    Raises `ErrorEvent` for `event: error`, `Malformed` for data that is not a JSON object. Unknown event
    types are ignored: the wire adds new ones over time.
    """
    if event == "ping" or not data.strip():
        return []
    try:
        payload = loads_json(data)
    except (json.JSONDecodeError, RecursionError) as e:
        raise Malformed(f"non-JSON data in a {event!r} event") from e
    if not isinstance(payload, dict):
        raise Malformed(f"a {event!r} event whose data is not a JSON object")
    kind = "error" if event == "error" else str(payload.get("type") or event)
    if kind == "error":
        raise ErrorEvent(payload, data)
    handler = _HANDLERS.get(kind)
    return handler(state, payload) if handler else []
