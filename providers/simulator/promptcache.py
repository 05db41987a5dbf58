"""The prompt cache of a simulated Anthropic account: a request whose stable prefix carries `cache_control` marks
writes that prefix to the account's cache (reported as `cache_creation_input_tokens`), and a later request with the
same prefix within five minutes of its last use reads it (`cache_read_input_tokens`). Prefixes shorter than the
minimum cacheable size are not cached, as on the real API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: how long a prefix stays warm after its last use (the ephemeral cache's 5 minutes)
WARM_S = 300.0
#: the smallest prefix the API caches (Sonnet and Opus: 1024 tokens)
MIN_CACHEABLE_TOKENS = 1024


def _blocks(data: dict[str, Any]) -> Iterator[Any]:
    """Every block of the request in the order the cache reads them: tools, system, then the turns' content."""
    tools = data.get("tools")
    if isinstance(tools, list):
        yield from tools
    system = data.get("system")
    if isinstance(system, list):
        yield from system
    elif isinstance(system, str):
        yield {"type": "text", "text": system}
    for turn in data.get("messages") or ():
        content = turn.get("content") if isinstance(turn, dict) else None
        if isinstance(content, list):
            yield from ({"role": turn.get("role"), **block} for block in content if isinstance(block, dict))
        elif isinstance(content, str):
            yield {"role": turn.get("role"), "type": "text", "text": content}


def marked_prefixes(data: Any) -> tuple[tuple[str, int], ...] | None:
    """(digest, tokens) of the request up to each of its `cache_control` marks, shortest first; None without one."""
    if not isinstance(data, dict):
        return None
    blocks = list(_blocks(data))
    marks = [i for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b]
    if not marks:
        return None
    found: list[tuple[str, int]] = []
    for last in marks:
        prefix = blocks[: last + 1]
        text = json.dumps(prefix, sort_keys=True, default=str)
        chars = sum(len(str(b.get("text", ""))) + len(json.dumps(b.get("input_schema", ""))) for b in prefix)
        found.append((hashlib.sha256(text.encode()).hexdigest(), max(1, (chars + 3) // 4)))  # four characters a token
    return tuple(found)


@dataclass
class PromptCache:
    """One account's warm prefixes: digest -> epoch second they go cold."""

    until: dict[str, float] = field(default_factory=dict[str, float])

    def use(self, prefixes: tuple[tuple[str, int], ...] | None, now: float) -> tuple[int, int]:
        """(tokens read from the cache, tokens written to it) for a request with these marked prefixes: the
        longest warm one is read, the rest up to the last mark written; every cacheable one stays warm."""
        cacheable = [p for p in prefixes or () if p[1] >= MIN_CACHEABLE_TOKENS]
        if not cacheable:
            return 0, 0
        self.until = {d: t for d, t in self.until.items() if t > now}
        read = max((tokens for digest, tokens in cacheable if digest in self.until), default=0)
        for digest, _ in cacheable:
            self.until[digest] = now + WARM_S
        return read, cacheable[-1][1] - read
