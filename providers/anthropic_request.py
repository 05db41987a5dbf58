"""The body of a Messages call (`POST {base_url}/v1/messages`): system, messages and content blocks, tools."""

from __future__ import annotations

import json
from typing import Any

from providers.types import ChatRequest, Message, ToolSpec
from providers.vendors import WireOptions

#: `max_tokens` is required on this wire; this is sent when the request sets none. Every current Claude model
#: (and the GLM/Kimi models behind the compatible endpoints) accepts it, and it bounds a runaway answer's cost.
DEFAULT_MAX_TOKENS = 4096

#: the range the Messages API accepts, whatever the vendor options allow
_WIRE_TEMPERATURE = (0.0, 1.0)

#: Anthropic has no JSON mode on this API version; the request's wish is passed as an instruction
_JSON_INSTRUCTION = "Respond with a single valid JSON value and nothing else."

#: a cheap, generous token estimate for the caching decision: about four characters of JSON per token
_CHARS_PER_TOKEN = 4
_EPHEMERAL = {"type": "ephemeral"}


def build_body(request: ChatRequest, options: WireOptions, stream: bool) -> dict[str, Any]:
    """The JSON body of a Messages call for `request`."""
    system_parts = [request.system] if request.system else []
    # the wire has no system role inside `messages`: such turns join the top-level system prompt
    system_parts += [message.content for message in request.messages if message.role == "system" and message.content]
    if request.json_output:
        system_parts.append(_JSON_INSTRUCTION)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_output_tokens or DEFAULT_MAX_TOKENS,
        "messages": _convert_messages(request.messages),
    }
    if system_parts:
        body["system"] = "\n\n".join(system_parts)
    if request.temperature is not None:
        low = max(_WIRE_TEMPERATURE[0], options.temperature_min)
        high = min(_WIRE_TEMPERATURE[1], options.temperature_max)
        body["temperature"] = min(max(request.temperature, low), high)
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if stream:
        body["stream"] = True
    if options.min_cache_tokens is not None:
        _mark_cacheable_prefix(body, options.min_cache_tokens)
    return body


def _mark_cacheable_prefix(body: dict[str, Any], min_tokens: int) -> None:
    """Put `cache_control` breakpoints (two of the wire's four) at the end of the stable prefix of a long request:
    after tools and system, and on the last turn before the new one. The wire caches in the order tools, system,
    messages, so each mark covers everything before it; a prefix below `min_tokens` is left unmarked, its body
    unchanged."""
    head: list[Any] = [body.get("tools", []), body.get("system", "")]
    turns: list[dict[str, Any]] = body["messages"]
    if _estimate_tokens(head) >= min_tokens:
        if "system" in body:
            body["system"] = [{"type": "text", "text": body["system"], "cache_control": dict(_EPHEMERAL)}]
        elif "tools" in body:
            body["tools"][-1]["cache_control"] = dict(_EPHEMERAL)
    if len(turns) >= 2 and _estimate_tokens([*head, turns[:-1]]) >= min_tokens:
        turns[-2]["content"][-1]["cache_control"] = dict(_EPHEMERAL)


def _estimate_tokens(parts: list[Any]) -> int:
    return sum(len(json.dumps(part, ensure_ascii=False)) for part in parts) // _CHARS_PER_TOKEN


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}


def _convert_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Provider-neutral turns as Messages turns: tool results become user turns, and same-role turns merge
    because the wire requires user and assistant to alternate."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        blocks = _blocks(message)
        if not blocks:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # a user turn must open with its tool_result blocks; the sort is stable, so order is kept otherwise
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        if message.content:
            result["content"] = message.content
        return [result]
    # the API rejects empty and whitespace-only text blocks
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content.strip() else []
    blocks += [
        {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}
        for image in message.images
    ]
    if message.role == "assistant":
        blocks += [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)}
            for call in message.tool_calls
        ]
    return blocks


def _tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object the wire wants; anything unparsable or not an object is {}."""
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
