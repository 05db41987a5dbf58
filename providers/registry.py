"""From an account's wire kind to the adapter that speaks it: the one place that knows all three."""

from __future__ import annotations

import httpx2

from providers.adapter import ChatAdapter
from providers.anthropic import AnthropicAdapter
from providers.clock import Clock
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.types import Endpoint, WireKind
from providers.vendors import WireOptions


def make_adapter(
    kind: WireKind, http: httpx2.AsyncClient, endpoint: Endpoint, options: WireOptions, clock: Clock
) -> ChatAdapter:
    """The adapter for `kind` bound to one account's endpoint, over the shared client and the process's clock."""
    if kind == "anthropic":
        return AnthropicAdapter(http, endpoint, options, clock=clock)
    if kind == "gemini":
        return GeminiAdapter(http, endpoint, options, clock=clock)
    return OpenAICompatAdapter(http, endpoint, options, clock=clock)
