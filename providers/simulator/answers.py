"""Successful answers in each flavour's exact wire format, whole and streamed.

A stream is returned in three parts so faults can cut it: `head` (preamble), `body` (one frame per text piece)
and `tail` (finish, usage and the terminator). A whole stream is head + body + tail.
"""

from __future__ import annotations

import json
import re
from dataclasses import field
from typing import Any, Literal

from providers.simulator.spec import Flavour
from providers.values import read_only_hashable

_PIECE = re.compile(r"\s*\S+")
_MAX_PIECES = 8


@read_only_hashable
class Answer:
    """One reply to send. `input_tokens` is a float only when a hostile fault makes it NaN or infinite;
    `usage` False sends none; `cost` is a reported cost to send whatever the flavour."""

    text: str
    model: str
    input_tokens: int | float
    output_tokens: int
    truncated: bool
    request_id: str
    created: int
    include_usage: bool = False
    #: the `usage.cost` an OpenRouter-flavoured answer reports (None: computed from the tokens)
    cost_usd: float | None = None
    usage: bool = True
    #: a hostile fault's reported cost (overrides everything)
    cost: float | None = None
    #: Anthropic: answer as a call of this (forced) tool, its input the text parsed as JSON
    tool: str | None = None
    #: Anthropic: input tokens read from / written to the account's prompt cache (part of the prompt, not of
    #: `input_tokens`, as the API reports them)
    cache_read: int = 0
    cache_write: int = 0


@read_only_hashable
class StreamPlan:
    head: list[bytes] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)


def pieces(text: str) -> list[str]:
    """Split a reply into at most `_MAX_PIECES` word-aligned deltas that concatenate back to it."""
    words = _PIECE.findall(text) or [text]
    size = -(-len(words) // _MAX_PIECES)
    parts = ["".join(words[i : i + size]) for i in range(0, len(words), size)]
    parts[-1] += text[len("".join(parts)) :]  # trailing whitespace
    return parts


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --- OpenAI-compatible flavours -------------------------------------------------------------------------------

UsagePlacement = Literal["own_chunk", "finish_chunk", "in_choice", "own_chunk_with_choices"]


@read_only_hashable
class _Style:
    id_prefix: str
    top: dict[str, Any]
    usage_at: UsagePlacement
    #: usage is sent even without `stream_options.include_usage`
    always_usage: bool = False
    logprobs: bool = True
    obfuscation: bool = False
    preamble: bytes = b""
    #: Z.AI leaves `finish_reason` out of a chunk until the last one
    omit_null_finish: bool = False


_STYLES: dict[Flavour, _Style] = {
    "openai": _Style(
        "chatcmpl-sim", {"service_tier": "default", "system_fingerprint": "fp_sim"}, "own_chunk", obfuscation=True
    ),
    "deepseek": _Style("sim-", {"system_fingerprint": "fp_sim"}, "own_chunk"),
    "zai": _Style("sim", {}, "finish_chunk", always_usage=True, logprobs=False, omit_null_finish=True),
    "moonshot": _Style("chatcmpl-sim", {"system_fingerprint": "fpv0_sim"}, "in_choice", always_usage=True),
    "openrouter": _Style(
        "gen-sim",
        {"provider": "Sim", "system_fingerprint": "fpv0_sim"},
        "own_chunk_with_choices",
        always_usage=True,
        preamble=b": OPENROUTER PROCESSING\n\n",
    ),
}


def _openai_usage(flavour: Flavour, answer: Answer) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }
    if flavour == "openai":
        base["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        base["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    elif flavour == "deepseek":
        base["prompt_tokens_details"] = {"cached_tokens": 0}
        base["prompt_cache_hit_tokens"] = 0
        base["prompt_cache_miss_tokens"] = answer.input_tokens
    elif flavour == "moonshot":
        base["cached_tokens"] = 0
    else:
        base["prompt_tokens_details"] = {"cached_tokens": 0}
        base["completion_tokens_details"] = {"reasoning_tokens": 0}
    if flavour == "openrouter":
        own_price = round((answer.input_tokens * 0.5 + answer.output_tokens * 1.5) / 1e6, 9)
        base["cost"] = own_price if answer.cost_usd is None else answer.cost_usd
        base["is_byok"] = False
        base["cost_details"] = {"upstream_inference_cost": None}
    if answer.cost is not None:
        base["cost"] = answer.cost
    return base


def _finish(answer: Answer) -> str:
    return "length" if answer.truncated else "stop"


def openai_json(flavour: Flavour, answer: Answer) -> bytes:
    """A whole chat.completion body."""
    style = _STYLES[flavour]
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if flavour == "openai":
        message |= {"refusal": None, "annotations": []}
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": _finish(answer)}
    if style.logprobs:
        choice["logprobs"] = None
    body: dict[str, Any] = {
        "id": style.id_prefix + answer.request_id,
        "object": "chat.completion",
        "created": answer.created,
        "model": answer.model,
        "choices": [choice],
        **({"usage": _openai_usage(flavour, answer)} if answer.usage else {}),
        **style.top,
    }
    if flavour == "zai":
        body["request_id"] = answer.request_id
    return _dumps(body)


def _openai_chunk(style: _Style, answer: Answer, choices: list[dict[str, Any]], usage: Any = ...) -> bytes:
    chunk: dict[str, Any] = {
        "id": style.id_prefix + answer.request_id,
        "object": "chat.completion.chunk",
        "created": answer.created,
        "model": answer.model,
        **style.top,
        "choices": choices,
    }
    if usage is not ...:
        chunk["usage"] = usage
    if style.obfuscation:
        chunk["obfuscation"] = "sim"
    return b"data: " + _dumps(chunk) + b"\n\n"


def _openai_choice(style: _Style, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish is not None or not style.omit_null_finish:
        choice["finish_reason"] = finish
    if style.logprobs:
        choice["logprobs"] = None
    return choice


def openai_stream(flavour: Flavour, answer: Answer) -> StreamPlan:
    """chat.completion.chunk frames ending in `data: [DONE]`, usage where this flavour puts it."""
    style = _STYLES[flavour]
    with_usage = (style.always_usage or answer.include_usage) and answer.usage
    null_usage: Any = None if flavour in ("openai", "deepseek") and with_usage else ...
    head = [style.preamble] if style.preamble else []
    head.append(
        _openai_chunk(style, answer, [_openai_choice(style, {"role": "assistant", "content": ""}, None)], null_usage)
    )
    body = [
        _openai_chunk(style, answer, [_openai_choice(style, {"content": piece}, None)], null_usage)
        for piece in pieces(answer.text)
    ]
    usage = _openai_usage(flavour, answer)
    finish_choice = _openai_choice(style, {}, _finish(answer))
    tail: list[bytes] = []
    if style.usage_at == "finish_chunk" and with_usage:
        tail.append(_openai_chunk(style, answer, [finish_choice], usage))
    elif style.usage_at == "in_choice" and with_usage:
        tail.append(_openai_chunk(style, answer, [finish_choice | {"usage": usage}]))
    else:
        tail.append(_openai_chunk(style, answer, [finish_choice], null_usage))
        if with_usage and style.usage_at == "own_chunk":
            tail.append(_openai_chunk(style, answer, [], usage))
        elif with_usage:
            tail.append(_openai_chunk(style, answer, [_openai_choice(style, {"content": ""}, None)], usage))
    tail.append(b"data: [DONE]\n\n")
    return StreamPlan(head, body, tail)


# --- Anthropic ---------------------------------------------------------------------------------------------------


def _anthropic_usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": answer.cache_write,
        "cache_read_input_tokens": answer.cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": answer.cache_write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _anthropic_stop(answer: Answer) -> str:
    return "max_tokens" if answer.truncated else ("tool_use" if answer.tool is not None else "end_turn")


def anthropic_json(answer: Answer) -> bytes:
    """A whole Messages API response."""
    return _dumps(
        {
            "model": answer.model,
            "id": "msg_sim" + answer.request_id,
            "type": "message",
            "role": "assistant",
            "content": [_anthropic_block(answer, whole=True)],
            "stop_reason": _anthropic_stop(answer),
            "stop_sequence": None,
            **({"usage": _anthropic_usage(answer, answer.output_tokens)} if answer.usage else {}),
        }
    )


def _anthropic_block(answer: Answer, *, whole: bool) -> dict[str, Any]:
    if answer.tool is None:
        return {"type": "text", "text": answer.text if whole else ""}
    return {"type": "tool_use", "id": "toolu_sim" + answer.request_id, "name": answer.tool, "input": _input(answer)}


def _input(answer: Answer) -> Any:
    try:
        return json.loads(answer.text)
    except ValueError:
        return {"text": answer.text}


def _start_block(answer: Answer) -> dict[str, Any]:
    block = _anthropic_block(answer, whole=False)
    return {**block, "input": {}} if answer.tool is not None else block


def _anthropic_delta(answer: Answer, piece: str) -> dict[str, Any]:
    if answer.tool is None:
        return {"type": "text_delta", "text": piece}
    return {"type": "input_json_delta", "partial_json": piece}


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps({"type": name, **data}) + b"\n\n"


def anthropic_stream(answer: Answer) -> StreamPlan:
    """message_start, a text block with a ping, message_delta with cumulative usage, message_stop."""
    message: dict[str, Any] = {
        "model": answer.model,
        "id": "msg_sim" + answer.request_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        **({"usage": _anthropic_usage(answer, 1)} if answer.usage else {}),  # the API's placeholder before generation
    }
    head = [
        _event("message_start", {"message": message}),
        _event("content_block_start", {"index": 0, "content_block": _start_block(answer)}),
        _event("ping", {}),
    ]
    text = answer.text if answer.tool is None else json.dumps(_input(answer))
    body = [
        _event("content_block_delta", {"index": 0, "delta": _anthropic_delta(answer, piece)}) for piece in pieces(text)
    ]
    final_usage = {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": answer.cache_write,
        "cache_read_input_tokens": answer.cache_read,
        "output_tokens": answer.output_tokens,
    }
    tail = [
        _event("content_block_stop", {"index": 0}),
        _event(
            "message_delta",
            {
                "delta": {"stop_reason": _anthropic_stop(answer), "stop_sequence": None},
                **({"usage": final_usage} if answer.usage else {}),
            },
        ),
        _event("message_stop", {}),
    ]
    return StreamPlan(head, body, tail)


# --- Gemini ------------------------------------------------------------------------------------------------------


def _gemini_usage(answer: Answer, candidates: int) -> dict[str, Any]:
    return {
        "promptTokenCount": answer.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": answer.input_tokens + candidates,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.input_tokens}],
    }


def _gemini_response(answer: Answer, text: str, candidates: int, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if final:
        candidate["finishReason"] = "MAX_TOKENS" if answer.truncated else "STOP"
        candidate["index"] = 0
    return {
        "candidates": [candidate],
        **({"usageMetadata": _gemini_usage(answer, candidates)} if answer.usage else {}),
        "modelVersion": answer.model,
        "responseId": "sim" + answer.request_id,
    }


def gemini_json(answer: Answer) -> bytes:
    """A whole generateContent response."""
    return _dumps(_gemini_response(answer, answer.text, answer.output_tokens, True))


def gemini_stream(answer: Answer, sse: bool) -> StreamPlan:
    """Chunks with cumulative usageMetadata, `finishReason` on the last: SSE split by CRLF CRLF, or a JSON array."""
    parts = pieces(answer.text)
    chunks: list[bytes] = []
    for index, piece in enumerate(parts):
        so_far = max(1, answer.output_tokens * (index + 1) // len(parts))
        chunks.append(_dumps(_gemini_response(answer, piece, so_far, index == len(parts) - 1)))
    if sse:
        frames = [b"data: " + chunk + b"\r\n\r\n" for chunk in chunks]
        return StreamPlan([], frames[:-1], frames[-1:])
    frames = [(b"[" if index == 0 else b",\r\n") + chunk for index, chunk in enumerate(chunks)]
    return StreamPlan([frames[0]], frames[1:-1], [*frames[-1:], b"]"] if len(frames) > 1 else [b"]"])
