"""Value objects shared by every wire adapter: requests, completions, stream events, usage, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

WireKind = Literal["openai", "anthropic", "gemini"]
Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]

#: the name a structured answer's schema (on the Anthropic wire: its forced tool) goes by
STRUCTURED_NAME = "structured_answer"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCall(Frozen):
    """A function call the model asked for; `arguments` is the JSON text exactly as the model produced it."""

    id: str
    name: str
    arguments: str = "{}"


ImageType = Literal["image/png", "image/jpeg", "image/webp", "image/gif"]


class ImagePart(Frozen):
    """An image sent with a user turn: its bytes as base64, its type sniffed from its magic bytes, its size in
    pixels (for each provider's token rule), and where it came from. Never stored in a conversation's history
    (routing.request.for_history leaves a reference in its place)."""

    media_type: ImageType
    data: str = Field(repr=False)
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    sha256: str
    path: str = ""


class Message(Frozen):
    """One turn of a conversation in a provider-neutral form.

    `tool_calls` belongs to assistant turns; `tool_call_id` (and `name`) to tool-result turns; `images` to user
    turns (they follow the text on every wire).
    Thinking/reasoning blocks are never stored here: they do not survive a switch of provider.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    images: tuple[ImagePart, ...] = ()


class ToolSpec(Frozen):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ChatRequest(Frozen):
    """What the router asks of one model. `system` is separate because each wire places it differently."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    json_output: bool = False
    #: structured output: the answer must be JSON valid against this JSON Schema (each wire asks in its own way)
    json_schema: dict[str, Any] | None = None


class Usage(Frozen):
    """Normalised token usage; provider-reported numbers are the truth.

    `input_tokens` includes cached input (read and written) for every provider, so it is comparable across
    them; `output_tokens` includes reasoning tokens (they are billed as output). The details are kept apart.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class RateLimits(Frozen):
    """What a provider's response headers said about its limits; every field is optional.

    Reset times are absolute (the parser is given `now`), so they can be stored and compared later.
    """

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_at: datetime | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_at: datetime | None = None
    retry_after_s: float | None = None

    @property
    def is_empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())


class Completion(Frozen):
    """`usage_missing`: the provider reported no usage, or none to believe (`usage` is then zero and the router
    settles the attempt at its estimate)."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason
    usage: Usage
    model: str
    reasoning: str | None = None
    raw_finish_reason: str | None = None
    rate_limits: RateLimits = RateLimits()
    reported_cost_usd: float | None = None
    usage_missing: bool = False


# Stream events are built once per event of every stream from values the adapters already checked: frozen slotted
# dataclasses (≈ 0.3 µs each) rather than validated models (≈ 0.7 µs), with the same fields and `kind`.


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasoningDelta:
    text: str
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same `index` concatenate."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamDone:
    """The last event of every successful stream: the assembled completion, usage and finish reason."""

    completion: Completion
    kind: Literal["done"] = "done"


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | StreamDone


#: the default cap on one response's size (settings.maxResponseMb)
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class Endpoint(Frozen):
    """Where and as whom an adapter talks: one account of one provider, its key already resolved.

    `max_response_bytes` caps what one response may send; past it the attempt fails as malformed.
    """

    provider: str
    account: str
    base_url: str
    api_key: SecretStr | None = None
    extra_headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)
