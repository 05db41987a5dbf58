"""A non-streamed Messages reply read into a `Completion`: content blocks, finish reason and usage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from providers.types import Completion, FinishReason, RateLimits, ToolCall, Usage
from providers.usage_check import detail_count, impossible, required_counts

_NO_LIMITS = RateLimits()

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "other",
}


def finish_reason(raw: object) -> FinishReason:
    return _FINISH_REASONS.get(raw, "other") if isinstance(raw, str) else "other"


_WHERE = "an Anthropic reply"


def map_usage(usage: Mapping[str, Any] | None) -> Usage | None:
    """Anthropic usage, normalised: its `input_tokens` EXCLUDES cached input, ours includes reads and writes.

    None when there is none, or its counts are impossible (see `providers.usage_check`)."""
    counts = required_counts(usage, ("input_tokens",), _WHERE) if usage else None
    if usage is None or counts is None or impossible(usage, "output_tokens", _WHERE):
        return None
    cache_read = detail_count(usage, "cache_read_input_tokens", _WHERE)
    cache_write = detail_count(usage, "cache_creation_input_tokens", _WHERE)
    return Usage(
        input_tokens=counts[0] + cache_read + cache_write,
        output_tokens=detail_count(usage, "output_tokens", _WHERE),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def parse_response(data: Mapping[str, Any], *, fallback_model: str, rate_limits: RateLimits = _NO_LIMITS) -> Completion:
    """A non-streamed Messages response as a `Completion`."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    content = data.get("content")
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    id=str(block.get("id") or ""),
                    name=str(block.get("name") or ""),
                    arguments=json.dumps(block.get("input") or {}),
                )
            )
    raw_reason = data.get("stop_reason")
    raw_usage = data.get("usage")
    usage = map_usage(raw_usage if isinstance(raw_usage, dict) else None)
    return Completion(
        text="".join(texts),
        tool_calls=tuple(calls),
        finish_reason=finish_reason(raw_reason),
        raw_finish_reason=raw_reason if isinstance(raw_reason, str) else None,
        usage=usage or Usage(),
        usage_missing=usage is None,
        model=str(data.get("model") or fallback_model),
        reasoning="".join(reasoning) or None,
        rate_limits=rate_limits,
    )
