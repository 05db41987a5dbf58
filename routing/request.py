"""What the router is asked (`RouteRequest`) and what it routes by (`RouterSetup`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from providers.models import ProviderConfig, TaskType
from providers.types import Message, ToolSpec
from providers.values import read_only_hashable
from routing.preferences import BudgetMode, Preferences, QualityMode


@read_only_hashable
class AttachedFile:
    """A workspace file the server read into the request: its path as shown, its tokens, its content's sha256."""

    path: str
    tokens: int
    sha256: str


@dataclass(frozen=True)
class RouteRequest:
    """One call of route_and_complete, validated by the caller."""

    messages: tuple[Message, ...]
    system: str | None = None
    task_type: TaskType | None = None
    quality: QualityMode | None = None
    budget_mode: BudgetMode | None = None
    provider: str | None = None
    model: str | None = None
    conversation_id: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    max_cost_usd: float | None = None
    tools: tuple[ToolSpec, ...] = ()
    json_output: bool = False
    #: structured output: the answer must be JSON valid against this schema (routing.structured)
    json_schema: dict[str, Any] | None = None
    dry_run: bool = False
    #: the response cache: False bypasses it, True opts in, None follows the policy (routing.cache.cache_ttl)
    cache: bool | None = None
    #: exclude candidates whose predicted p95 completion time is longer (filter `latency`)
    max_latency_s: float | None = None
    #: race the next candidate when the first token is late (None: preferences.hedge)
    hedge: bool | None = None
    #: the files the server placed ahead of the task (their text is already in the last user message)
    files: tuple[AttachedFile, ...] = ()


def for_history(messages: Sequence[Message]) -> tuple[Message, ...]:
    """`messages` as a conversation stores them: each image is dropped and a reference (path, type, size, sha256)
    is left in the text. Images are large and resent only on the turn that attaches them; a later turn that needs
    one again attaches it again."""
    return tuple(
        message.model_copy(update={"content": _with_refs(message), "images": ()}) if message.images else message
        for message in messages
    )


def _with_refs(message: Message) -> str:
    refs = [
        f"[image {image.path or '(inline)'}: {image.media_type} {image.width}x{image.height}, sha256 {image.sha256},"
        " not kept in the conversation]"
        for image in message.images
    ]
    return "\n".join([message.content, *refs]) if message.content else "\n".join(refs)


@dataclass(frozen=True)
class RouterSetup:
    """The configuration the router routes by; replaced whole when providers.json changes."""

    providers: dict[str, ProviderConfig]
    preferences: Preferences
    request_timeout_s: float = 60.0
    deadline_s: float = 180.0
    timezone: str = "UTC"
    log_prompts: bool = False
