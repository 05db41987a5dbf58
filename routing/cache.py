"""The response cache's policy (pure): which calls are cached, for how long, and under which key.

The key is a sha256 of the canonical request (system, turns with each image as its sha256, tools, JSON output,
temperature, output cap, the content hashes of the files the server read into it), the
model class the router would pick from (the chosen provider/model) and the scope (the caller's conversation id,
or none): two scopes never share an entry. The store behind `ports.CachePort` keeps the entries.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from providers.models import TaskType
from providers.types import Frozen, Message, ToolCall, ToolSpec, Usage
from providers.values import read_only_hashable
from routing.preferences import DEFAULT_CACHE_TTL_S, CachePolicy

#: bumped when the canonical form changes, so old entries are never read under new meaning
KEY_VERSION = 1


@read_only_hashable
class CacheKeyParts:
    """Everything a cached answer depends on."""

    system: str | None
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    json_output: bool
    temperature: float | None
    max_output_tokens: int | None
    provider: str
    model: str
    scope: str | None
    #: sha256 of each attached workspace file's content, in order
    files: tuple[str, ...] = ()
    #: a structured-output request's schema (part of the key only when set, so other keys are unchanged)
    json_schema: dict[str, Any] | None = None


def cache_key(parts: CacheKeyParts) -> str:
    """The sha256 (hex) of the canonical JSON of `parts` (sorted keys, no whitespace)."""
    canonical: dict[str, Any] = {
        "v": KEY_VERSION,
        "system": parts.system,
        "messages": [m.model_dump(mode="json") for m in parts.messages],
        "tools": [t.model_dump(mode="json") for t in parts.tools],
        "json_output": parts.json_output,
        "temperature": parts.temperature,
        "max_output_tokens": parts.max_output_tokens,
        "class": [parts.provider, parts.model],
        "scope": parts.scope,
    }
    if parts.files:
        canonical["files"] = list(parts.files)
    if parts.json_schema is not None:
        canonical["json_schema"] = parts.json_schema
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_ttl(policy: CachePolicy, task_type: TaskType, temperature: float | None, opt: bool | None) -> int | None:
    """Seconds to keep this call's answer, or None when it is not cached.

    `opt` is the call's `cache`: False bypasses, True opts in (the type's TTL, else the default); unset, a type
    listed in `preferences.cache` uses its TTL whatever the temperature, and any other call only at temperature 0.
    A TTL of 0 turns caching off for the type.
    """
    if opt is False:
        return None
    ttl = policy.ttl_s.get(task_type)
    if ttl is None and (opt is True or temperature == 0):
        ttl = DEFAULT_CACHE_TTL_S
    return ttl if ttl else None


class CachedAnswer(Frozen):
    """What the cache stores of a served call: the answer, what it used and cost, and who served it."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    usage: Usage = Usage()
    cost_usd: float = 0.0
    provider: str
    model: str
    account: str


@read_only_hashable
class CachePlan:
    """A cacheable call: its key and scope, and until when its answer would be kept."""

    key: str
    scope: str | None
    ttl_s: int

    def expires_at(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.ttl_s)
