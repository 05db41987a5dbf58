"""A non-streamed Chat Completions reply read into a `Completion` (content, tool calls, finish reason, usage), and
the faults found while reading one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from providers.openai_errors import find_error
from providers.types import Completion, FinishReason, ToolCall, Usage
from providers.usage_check import cost_usd, detail_count, impossible, required_counts

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "eos": "stop",
    "length": "length",
    "model_context_window_exceeded": "length",  # Z.AI
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "sensitive": "content_filter",  # Z.AI
    "error": "error",  # OpenRouter
    "network_error": "error",  # Z.AI
    "insufficient_system_resource": "error",  # DeepSeek
}


class _WireError(Exception):
    """A failure found while reading a reply; `_map_errors` translates it into a provider error."""


class Malformed(_WireError):
    def __init__(self, what: str, status_code: int = 200) -> None:
        super().__init__(what)
        self.status_code = status_code


class Truncated(_WireError):
    pass


class ErrorReply(_WireError):
    """An error status, or an error object inside a 200 body or stream."""

    def __init__(
        self, status_code: int, body: str, headers: Mapping[str, str], error: Mapping[str, Any] | None
    ) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers
        self.error = error


_WHERE = "an OpenAI-compatible reply"


def map_usage(usage: Any) -> Usage | None:
    """Normalise a `usage` object: `prompt_tokens` already includes cached input, reasoning is part of output.

    None when there is none, or its counts are impossible (see `providers.usage_check`)."""
    if not isinstance(usage, Mapping):
        return None
    counts = required_counts(usage, ("prompt_tokens",), _WHERE)
    if counts is None or impossible(usage, "completion_tokens", _WHERE):
        return None
    prompt, completion = counts[0], detail_count(usage, "completion_tokens", _WHERE)
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, Mapping) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, Mapping) else {}
    reasoning = detail_count(completion_details, "reasoning_tokens", _WHERE)
    # Gemini's OpenAI endpoint leaves thinking out of completion_tokens but counts it in total_tokens
    unreported = detail_count(usage, "total_tokens", _WHERE) - prompt - completion
    if unreported > 0:
        completion += unreported
        reasoning += unreported
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        # OpenAI/Z.AI: prompt_tokens_details.cached_tokens; DeepSeek: prompt_cache_hit_tokens; Moonshot: cached_tokens
        cache_read_tokens=max(
            detail_count(prompt_details, "cached_tokens", _WHERE),
            detail_count(usage, "prompt_cache_hit_tokens", _WHERE),
            detail_count(usage, "cached_tokens", _WHERE),
        ),
        cache_write_tokens=detail_count(prompt_details, "cache_write_tokens", _WHERE),
        reasoning_tokens=reasoning,
    )


def reported_cost(usage: Any) -> float | None:
    return cost_usd(usage.get("cost"), _WHERE) if isinstance(usage, Mapping) else None


def finish_reason_of(raw: str | None, has_tool_calls: bool) -> FinishReason:
    if raw is None:
        return "tool_calls" if has_tool_calls else "stop"
    mapped = _FINISH_REASONS.get(raw, "other")
    # some servers end a turn of tool calls with "stop"; what the model asked for is what counts
    return "tool_calls" if mapped == "stop" and has_tool_calls else mapped


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as a few servers return them
        return "".join(p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str))
    return ""


def reasoning_of(message: Mapping[str, Any]) -> str:
    # Z.AI, DeepSeek and Moonshot say reasoning_content; Groq, OpenRouter and Ollama say reasoning
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def tool_call_id(raw: Any) -> str:
    # Gemini's OpenAI endpoint sends "" for every id; the conversation still needs one to pair the result
    return raw if isinstance(raw, str) and raw else f"call_{uuid.uuid4().hex[:24]}"


def _tool_call(raw: Any) -> ToolCall:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("function"), Mapping):
        raise Malformed("tool call without a function")
    function = raw["function"]
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return ToolCall(id=tool_call_id(raw.get("id")), name=str(function.get("name") or ""), arguments=arguments or "{}")


def raise_inline_error(data: Any) -> None:
    error = find_error(data)
    if error is not None:
        raise ErrorReply(200, json.dumps(data, default=str), {}, error)


def parse_response(data: Any, *, model: str = "") -> Completion:
    """A non-streamed chat completion body -> Completion (rate limits are added from the headers by the caller)."""
    raise_inline_error(data)
    if not isinstance(data, Mapping):
        raise Malformed("body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise Malformed("body has no choices")
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        raise Malformed("choice has no message")
    raw_calls = message.get("tool_calls")
    tool_calls = tuple(_tool_call(call) for call in raw_calls) if isinstance(raw_calls, list) else ()
    raw_finish = choices[0].get("finish_reason")
    raw_finish = raw_finish if isinstance(raw_finish, str) else None
    reasoning = reasoning_of(message)
    usage = map_usage(data.get("usage"))
    return Completion(
        text=content_text(message.get("content")) or content_text(message.get("refusal")),
        tool_calls=tool_calls,
        finish_reason=finish_reason_of(raw_finish, bool(tool_calls)),
        raw_finish_reason=raw_finish,
        usage=usage or Usage(),
        usage_missing=usage is None,
        model=str(data.get("model") or model),
        reasoning=reasoning or None,
        reported_cost_usd=reported_cost(data.get("usage")),
    )
