"""The one seam between the router and a wire protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Protocol

from providers.types import ChatRequest, Completion, RateLimits, StreamEvent


class ChatAdapter(Protocol):
    """One wire protocol bound to one endpoint (account) over an injected `httpx2.AsyncClient`.

    Every failure is raised as a `providers.errors.ProviderError` subclass.
    """

    async def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield deltas as they arrive; the last event is always a `StreamDone` with usage and finish reason."""
        ...

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits: ...
