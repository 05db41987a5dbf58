"""The body of a `generateContent` call: contents and parts, the system instruction, tools, generation config."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from providers.gemini_schema import gemini_schema
from providers.types import ChatRequest, Message, ToolSpec
from providers.vendors import WireOptions

#: Gemini 3 rejects a replayed `functionCall` without a `thoughtSignature`. `Message` keeps none (a signature
#: does not survive a switch of provider), so Google's documented sentinel stands in, on the first call of a turn.
SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator"


DEFAULT_OPTIONS = WireOptions()


def build_body(request: ChatRequest, options: WireOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """The JSON body of a `generateContent` / `streamGenerateContent` call for `request`."""
    contents, system_texts = _build_contents(request.messages)
    if request.system:
        system_texts.insert(0, request.system)
    body: dict[str, Any] = {"contents": contents}
    if system_texts:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system_texts]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_function_declaration(tool) for tool in request.tools]}]
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = min(max(request.temperature, options.temperature_min), options.temperature_max)
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.json_output:
        config["responseMimeType"] = "application/json"
    if config:
        body["generationConfig"] = config
    return body


def _build_contents(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[str]]:
    """Gemini `contents` (roles user/model, same-role turns merged) and the texts of any system messages."""
    system_texts: list[str] = []
    names_by_call_id: dict[str, str] = {}
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            if message.content:
                system_texts.append(message.content)
            continue
        if message.role == "assistant":
            role, parts = "model", _model_parts(message)
            names_by_call_id.update((call.id, call.name) for call in message.tool_calls)
        elif message.role == "tool":
            role, parts = "user", [_function_response_part(message, names_by_call_id)]
        else:
            role, parts = "user", [{"text": message.content}] if message.content else []
            parts += [{"inlineData": {"mimeType": image.media_type, "data": image.data}} for image in message.images]
        if not parts:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": role, "parts": parts})
    return turns, system_texts


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for position, call in enumerate(message.tool_calls):
        function_call: dict[str, Any] = {"name": call.name, "args": _arguments_object(call.arguments)}
        if call.id:
            function_call["id"] = call.id
        part: dict[str, Any] = {"functionCall": function_call}
        if position == 0:
            part["thoughtSignature"] = SKIP_THOUGHT_SIGNATURE
        parts.append(part)
    return parts


def _function_response_part(message: Message, names_by_call_id: Mapping[str, str]) -> dict[str, Any]:
    name = message.name or names_by_call_id.get(message.tool_call_id or "") or message.tool_call_id or "tool"
    # `response` must be an object: a tool that returned a JSON object is passed as one, anything else wrapped
    response = _json_object(message.content)
    function_response: dict[str, Any] = {
        "name": name,
        "response": response if response is not None else {"output": message.content},
    }
    if message.tool_call_id:
        function_response["id"] = message.tool_call_id
    return {"functionResponse": function_response}


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _arguments_object(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    value = _json_object(arguments)
    return value if value is not None else {"arguments": arguments}


def _function_declaration(tool: ToolSpec) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = gemini_schema(tool.parameters)
    # an object schema without properties is rejected by some Gemini models; no parameters means none
    if parameters.get("properties") or parameters.get("type") != "object":
        declaration["parameters"] = parameters
    return declaration
