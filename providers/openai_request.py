"""The body of a Chat Completions call: messages, tools, the JSON mode and the vendor's options."""

from __future__ import annotations

from typing import Any

from providers.types import ChatRequest, Message
from providers.vendors import WireOptions

Json = dict[str, Any]


def build_body(request: ChatRequest, options: WireOptions, stream: bool) -> Json:
    """The JSON body of a chat completion request for this vendor's wire options."""
    messages: list[Json] = [{"role": "system", "content": request.system}] if request.system else []
    messages.extend(_message(message) for message in request.messages)
    body: Json = {"model": request.model, "messages": messages, "stream": stream}
    if request.max_output_tokens is not None:
        body[options.max_tokens_field] = request.max_output_tokens
    if request.temperature is not None:
        body["temperature"] = min(max(request.temperature, options.temperature_min), options.temperature_max)
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    if request.json_output:
        body["response_format"] = {"type": "json_object"}
    if stream and options.stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


def _message(message: Message) -> Json:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    out: Json = {"role": message.role}
    if message.images:
        # the image_url part with a data URL is what every OpenAI-compatible server that takes images accepts
        text = [{"type": "text", "text": message.content}] if message.content else []
        out["content"] = text + [
            {"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{image.data}"}}
            for image in message.images
        ]
    elif message.content or not message.tool_calls:
        out["content"] = message.content
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    return out
