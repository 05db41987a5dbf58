"""Gemini chunks assembled into deltas and one `Completion` (a non-streamed response is one chunk).

- a tool call ends with `finishReason: STOP`; it is recognised by its `functionCall` part;
- every stream chunk repeats the cumulative `usageMetadata`, `finishReason` arrives on the last chunk only;
- without `alt=sse` (and from some proxies) the stream is one JSON array of the same chunk objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.gemini_reply import finish_reason_of, map_usage
from providers.sse import loads_json
from providers.types import (
    Completion,
    FinishReason,
    RateLimits,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

#: ids travel to other providers (Anthropic allows only these characters in a tool_use id)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

#: `isinstance(x, _MAP)` is `isinstance(x, Mapping)`, answered at once for the dicts JSON decodes to
_MAP = (dict, Mapping)


@dataclass
class GeminiState:
    """Folds response chunks (one for `generateContent`, many for a stream) into events and a completion."""

    model: str
    text: list[str] = field(default_factory=list[str])
    reasoning: list[str] = field(default_factory=list[str])
    tool_calls: list[ToolCall] = field(default_factory=list[ToolCall])
    usage: Usage | None = None
    raw_finish_reason: str | None = None
    block_reason: str | None = None
    response_id: str = ""

    @property
    def finished(self) -> bool:
        """Whether the model said it was done: a finish reason, or a prompt blocked before any candidate."""
        return self.raw_finish_reason is not None or self.block_reason is not None

    def add(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """Take in one chunk; return the deltas it carries."""
        if isinstance(chunk.get("usageMetadata"), Mapping):
            self.usage = map_usage(chunk["usageMetadata"])  # cumulative: the last one wins
        if isinstance(chunk.get("modelVersion"), str) and chunk["modelVersion"]:
            self.model = chunk["modelVersion"].removeprefix("models/")
        if not self.response_id and isinstance(chunk.get("responseId"), str):
            self.response_id = _ID_UNSAFE.sub("", chunk["responseId"])
        feedback = chunk.get("promptFeedback")
        if isinstance(feedback, _MAP) and feedback.get("blockReason"):
            self.block_reason = str(feedback["blockReason"])
        candidate = _first_candidate(chunk)
        if candidate is None:
            return []
        if candidate.get("finishReason"):
            self.raw_finish_reason = str(candidate["finishReason"])
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, _MAP) else None
        if not isinstance(parts, list):
            return []
        return [event for part in parts if isinstance(part, _MAP) for event in self._part_events(part)]

    def _part_events(self, part: Mapping[str, Any]) -> Iterator[StreamEvent]:
        call = part.get("functionCall")
        if isinstance(call, _MAP):
            index = len(self.tool_calls)
            given_id = call.get("id")
            tool_call = ToolCall(
                id=given_id if isinstance(given_id, str) and given_id else self._synthetic_id(index),
                name=str(call.get("name", "")),
                arguments=json.dumps(call.get("args") or {}, ensure_ascii=False),
            )
            self.tool_calls.append(tool_call)
            yield ToolCallDelta(index=index, id=tool_call.id, name=tool_call.name, arguments=tool_call.arguments)
            return
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return
        if part.get("thought") is True:
            self.reasoning.append(text)
            yield ReasoningDelta(text=text)
        else:
            self.text.append(text)
            yield TextDelta(text=text)

    def _synthetic_id(self, index: int) -> str:
        # Gemini often sends no call id. Ids must stay unique across a conversation (Anthropic refuses a repeated
        # tool_use id once the conversation moves there), so the response id joins the position when known.
        return f"call_{self.response_id}_{index}" if self.response_id else f"call_{index}"

    def completion(self, rate_limits: RateLimits | None = None) -> Completion:
        """The assembled completion; a prompt blocked with no candidate ends as `content_filter`."""
        if self.raw_finish_reason is None and self.block_reason is not None:
            finish_reason: FinishReason = "content_filter"
            raw: str | None = self.block_reason
        else:
            finish_reason = finish_reason_of(self.raw_finish_reason, bool(self.tool_calls))
            raw = self.raw_finish_reason
        return Completion(
            text="".join(self.text),
            tool_calls=tuple(self.tool_calls),
            finish_reason=finish_reason,
            usage=self.usage or Usage(),
            usage_missing=self.usage is None,
            model=self.model,
            reasoning="".join(self.reasoning) or None,
            raw_finish_reason=raw,
            rate_limits=rate_limits or RateLimits(),
        )


def _first_candidate(chunk: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = chunk.get("candidates")
    if not isinstance(candidates, list):
        return None
    for candidate in candidates:
        if isinstance(candidate, _MAP) and candidate.get("index", 0) == 0:
            return candidate
    return None


def parse_response(data: Mapping[str, Any], model: str) -> Completion:
    """A `generateContent` response body as a `Completion` (`model` until the body names its version)."""
    state = GeminiState(model)
    state.add(data)
    return state.completion()


def parse_chunk(data: str) -> Mapping[str, Any]:
    """One SSE `data:` payload as a chunk object; ValueError when it is not a JSON object."""
    value = loads_json(data)
    if not isinstance(value, dict):
        raise ValueError("a stream chunk is not a JSON object")
    return value


class JsonArrayChunks:
    """Splits a streamed JSON array of objects (`[{…},{…}]`) into objects as their bytes arrive.

    A single top-level object is accepted too (a proxy answering the stream with one response).
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._opened = False
        self._closed = False
        self._decoder = json.JSONDecoder()

    def feed(self, text: str) -> list[Mapping[str, Any]]:
        """Objects completed by `text`; ValueError as soon as the bytes cannot be such an array."""
        self._buffer += text
        found: list[Mapping[str, Any]] = []
        while not self._closed:
            stripped = self._buffer.lstrip()
            if not stripped:
                break
            head = stripped[0]
            if not self._opened and head == "[":
                self._opened, self._buffer = True, stripped[1:]
            elif self._opened and head in ",]":
                self._closed, self._buffer = head == "]", stripped[1:]
            elif head == "{":
                try:
                    value, end = self._decoder.raw_decode(stripped)
                except json.JSONDecodeError:
                    self._buffer = stripped
                    break  # an object cut by the chunking; wait for more
                found.append(value)
                self._buffer = stripped[end:]
                self._closed = not self._opened
            else:
                raise ValueError(f"unexpected {head!r} in a JSON chunk array")
        return found
