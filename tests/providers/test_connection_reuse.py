"""Every adapter hands its connection back to the pool once StreamDone is out, even when the caller stops there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from providers.anthropic import AnthropicAdapter
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.simulator import SimAccount, Simulator
from providers.types import ChatRequest, Completion, Endpoint, Message, StreamDone, WireKind
from tests.clock import FixedClock, fixed_epoch

pytestmark = pytest.mark.anyio

KINDS: tuple[WireKind, ...] = ("openai", "anthropic", "gemini")
REQUEST = ChatRequest(model="m-1", messages=(Message(role="user", content="Say hello."),), max_output_tokens=64)


class CountingTransport(httpx2.AsyncBaseTransport):
    """The default transport, noting the network stream (the TCP connection) each response came on."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.streams: list[Any] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.streams.append(response.extensions.get("network_stream"))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator([SimAccount(id=f"{kind}-1", kind=kind) for kind in KINDS], clock=fixed_epoch) as simulator:
        yield simulator


def _adapter(kind: WireKind, http: httpx2.AsyncClient, sim: Simulator) -> Any:
    endpoint = Endpoint(provider=kind, account=f"{kind}-1", base_url=sim.base_url(f"{kind}-1"))
    classes: dict[WireKind, Any] = {
        "openai": OpenAICompatAdapter,
        "anthropic": AnthropicAdapter,
        "gemini": GeminiAdapter,
    }
    return classes[kind](http, endpoint, clock=FixedClock())


async def _until_done(adapter: Any) -> Completion:
    """Read the stream the way the router does: stop at StreamDone, leaving the generator unfinished."""
    async for event in adapter.stream(REQUEST):
        if isinstance(event, StreamDone):
            return event.completion
    raise AssertionError("no StreamDone")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_second_streamed_request_reuses_the_first_ones_connection(kind: WireKind, sim: Simulator) -> None:
    transport = CountingTransport()
    async with httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(5.0)) as http:
        adapter = _adapter(kind, http, sim)
        first = await _until_done(adapter)
        second = await _until_done(adapter)
    assert first.text and second.text
    assert len(transport.streams) == 2
    assert transport.streams[0] is not None
    assert transport.streams[0] is transport.streams[1]
