"""Every adapter against replies no provider should send (the simulator's hostile faults): impossible usage is
treated as missing, a reply past the size cap fails as malformed, error bodies are read and kept short."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.anthropic import AnthropicAdapter
from providers.errors import MAX_BODY_CHARS, MAX_MESSAGE_CHARS, ProviderError, ServerError
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.simulator import Flavour, HostileFault, SimAccount, Simulator
from providers.types import ChatRequest, Completion, Endpoint, Message, StreamDone, Usage
from providers.vendors import vendor_for
from tests.clock import fixed_epoch

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FLAVOURS: tuple[Flavour, ...] = ("openai", "zai", "moonshot", "deepseek", "openrouter", "anthropic", "gemini")
CHAT = ChatRequest(
    model="m-1", messages=(Message(role="user", content="Say hello in one word."),), max_output_tokens=50
)
HUGE_BYTES = 300_000
CAP_BYTES = 100_000
#: faults whose usage the adapter must not believe
UNBELIEVABLE: tuple[HostileFault, ...] = ("nan_usage", "huge_usage", "negative_usage", "no_usage")


def _account(flavour: Flavour) -> SimAccount:
    kind = flavour if flavour in ("anthropic", "gemini") else "openai"
    return SimAccount(id=flavour, kind=kind, flavour=flavour, huge_body_bytes=HUGE_BYTES)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    async with Simulator([_account(flavour) for flavour in FLAVOURS], clock=fixed_epoch) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as client:
        yield client


def _adapter(http: httpx2.AsyncClient, sim: Simulator, flavour: Flavour, **endpoint: Any) -> ChatAdapter:
    vendor = vendor_for(flavour)
    assert vendor is not None
    where = Endpoint(
        provider=vendor.id, account=flavour, base_url=sim.base_url(flavour), api_key=SecretStr("sk-sim"), **endpoint
    )
    if flavour == "anthropic":
        return AnthropicAdapter(http, where, vendor.options, clock=lambda: NOW)
    if flavour == "gemini":
        return GeminiAdapter(http, where, vendor.options, clock=lambda: NOW)
    return OpenAICompatAdapter(http, where, vendor.options, clock=lambda: NOW)


async def _call(adapter: ChatAdapter, stream: bool) -> Completion:
    with anyio.fail_after(10):
        if not stream:
            return await adapter.complete(CHAT)
        events = [event async for event in adapter.stream(CHAT)]
    assert isinstance(events[-1], StreamDone)
    return events[-1].completion


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("fault", UNBELIEVABLE)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_impossible_or_missing_usage_is_answered_and_marked_missing(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour, fault: HostileFault, stream: bool
) -> None:
    sim.script(flavour, [fault])
    completion = await _call(_adapter(http, sim, flavour), stream)
    assert completion.text.startswith(f"{flavour} (m-1) answers")
    assert completion.usage_missing
    assert completion.usage == Usage()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_normal_reply_reports_its_usage(sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour) -> None:
    completion = await _call(_adapter(http, sim, flavour), stream=True)
    assert not completion.usage_missing
    assert completion.usage.input_tokens > 0


async def test_impossible_usage_is_logged_as_a_warning(
    sim: Simulator, http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    sim.script("openai", ["negative_usage"])
    with caplog.at_level(logging.WARNING, logger="providers.usage_check"):
        await _call(_adapter(http, sim, "openai"), stream=False)
    assert any("impossible usage" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_an_infinite_reported_cost_is_ignored(sim: Simulator, http: httpx2.AsyncClient, stream: bool) -> None:
    sim.script("openrouter", ["inf_cost"])
    completion = await _call(_adapter(http, sim, "openrouter"), stream)
    assert completion.reported_cost_usd is None
    assert not completion.usage_missing


@pytest.mark.parametrize("flavour", ["openai", "moonshot", "anthropic", "gemini"])
async def test_rate_limit_headers_saying_inf_are_no_information(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour
) -> None:
    sim.script(flavour, ["inf_header"])
    completion = await _call(_adapter(http, sim, flavour), stream=True)
    assert completion.rate_limits.is_empty


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_reply_past_the_size_cap_fails_as_malformed(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour, stream: bool
) -> None:
    sim.script(flavour, ["huge_body"])
    adapter = _adapter(http, sim, flavour, max_response_bytes=CAP_BYTES)
    with pytest.raises(ServerError) as raised:
        await _call(adapter, stream)
    assert "size cap" in raised.value.message
    assert raised.value.fails_over


@pytest.mark.parametrize("flavour", ["openai", "anthropic", "gemini"])
async def test_a_reply_under_the_cap_is_read_whole(sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour) -> None:
    sim.script(flavour, ["huge_body"])
    completion = await _call(_adapter(http, sim, flavour, max_response_bytes=4 * HUGE_BYTES), stream=True)
    assert len(completion.text) > HUGE_BYTES


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_huge_error_body_is_kept_short(
    sim: Simulator, http: httpx2.AsyncClient, flavour: Flavour, stream: bool
) -> None:
    sim.script(flavour, ["huge_error"])
    with pytest.raises(ProviderError) as raised:
        await _call(_adapter(http, sim, flavour), stream)
    error = raised.value
    assert error.error_class == "server_error"
    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert len(getattr(error, "body", "")) <= MAX_BODY_CHARS
