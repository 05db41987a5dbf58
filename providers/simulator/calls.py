"""Read what a request asks for, per wire: model, streaming, prompt and a rough input token count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from providers.simulator.promptcache import marked_prefixes
from providers.types import WireKind
from providers.values import read_only_hashable

_TEXT_KEYS = ("content", "text", "parts", "messages", "contents", "system", "systemInstruction", "arguments")


@read_only_hashable
class Call:
    """One generation request, reduced to what the simulator's answer depends on."""

    model: str
    stream: bool
    #: Gemini: `alt=sse` (else a streamed JSON array); OpenAI: `stream_options.include_usage`
    sse: bool
    include_usage: bool
    prompt: str
    input_tokens: int
    max_output_tokens: int | None
    #: Anthropic: the tool `tool_choice` forces (the answer then comes as that tool's input)
    forced_tool: str | None = None
    #: Anthropic: (digest, tokens) of the prefix up to each `cache_control` mark (promptcache.py)
    cache_prefix: tuple[tuple[str, int], ...] | None = None


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for key in _TEXT_KEYS:
            if key in value:
                yield from _texts(value[key])


def estimate_tokens(chars: int) -> int:
    """The usual rough rule: four characters a token, at least one."""
    return max(1, (chars + 3) // 4)


def _last_user_text(turns: Any, role_key: str = "role") -> str:
    if not isinstance(turns, list):
        return ""
    for turn in reversed(turns):
        if isinstance(turn, dict) and turn.get(role_key) == "user":
            return " ".join(_texts(turn))
    return ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_json(body: bytes) -> Any:
    """The decoded body, or None when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_call(kind: WireKind, data: Any, path_model: str | None, query: str) -> Call | None:
    """The call a decoded request body describes; None when it is not a valid request for that wire."""
    if not isinstance(data, dict):
        return None
    if kind == "gemini":
        contents = data.get("contents")
        if not path_model or not isinstance(contents, list) or not contents:
            return None
        config = data.get("generationConfig") or {}
        chars = sum(len(text) for text in _texts({"contents": contents, "system": data.get("systemInstruction")}))
        return Call(
            model=path_model,
            stream=False,
            sse="alt=sse" in query,
            include_usage=True,
            prompt=_last_user_text(contents),
            input_tokens=estimate_tokens(chars),
            max_output_tokens=_int_or_none(config.get("maxOutputTokens")) if isinstance(config, dict) else None,
        )
    model, messages = data.get("model"), data.get("messages")
    if not isinstance(model, str) or not model or not isinstance(messages, list) or not messages:
        return None
    if kind == "anthropic" and _int_or_none(data.get("max_tokens")) is None:
        return None  # required on this wire
    chars = sum(len(text) for text in _texts({"messages": messages, "system": data.get("system")}))
    options = data.get("stream_options")
    limit = data.get("max_tokens") if kind == "anthropic" else data.get("max_completion_tokens", data.get("max_tokens"))
    return Call(
        model=model,
        stream=data.get("stream") is True,
        sse=True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        prompt=_last_user_text(messages),
        input_tokens=estimate_tokens(chars),
        max_output_tokens=_int_or_none(limit),
        forced_tool=_forced_tool(data.get("tool_choice")) if kind == "anthropic" else None,
        cache_prefix=marked_prefixes(data) if kind == "anthropic" else None,
    )


def _forced_tool(choice: Any) -> str | None:
    if isinstance(choice, dict) and choice.get("type") == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return None
