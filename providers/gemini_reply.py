"""What a Gemini reply's fields mean: `usageMetadata` as `Usage`, `finishReason` as a `FinishReason`.

`promptTokenCount` already includes `cachedContentTokenCount`; thoughts are billed as output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.types import FinishReason, Usage
from providers.usage_check import detail_count, impossible, required_counts

_CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)


_WHERE = "a Gemini reply"


def map_usage(metadata: Mapping[str, Any]) -> Usage | None:
    """Normalised usage from `usageMetadata`; None when its prompt count is missing or impossible.

    `promptTokenCount` already includes the cached tokens; tool-use prompt tokens (e.g. search results) are
    billed as input; thoughts are billed as output and reported apart as reasoning. A blocked prompt reports no
    `candidatesTokenCount`: no output.
    """
    counts = required_counts(metadata, ("promptTokenCount",), _WHERE)
    if counts is None or impossible(metadata, "candidatesTokenCount", _WHERE):
        return None
    thoughts = detail_count(metadata, "thoughtsTokenCount", _WHERE)
    return Usage(
        input_tokens=counts[0] + detail_count(metadata, "toolUsePromptTokenCount", _WHERE),
        output_tokens=detail_count(metadata, "candidatesTokenCount", _WHERE) + thoughts,
        cache_read_tokens=detail_count(metadata, "cachedContentTokenCount", _WHERE),
        reasoning_tokens=thoughts,
    )


def finish_reason_of(raw: str | None, has_tool_calls: bool) -> FinishReason:
    if raw == "STOP":
        return "tool_calls" if has_tool_calls else "stop"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _CONTENT_FILTER_REASONS:
        return "content_filter"
    return "other"
