"""A key is masked in every form an error text carries it: as is, escaped by repr, a bytes repr or JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.anthropic import AnthropicAdapter
from providers.errors import ProviderError
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.redact import MASK, redact_secret, secret_forms
from providers.simulator import SimAccount, Simulator
from providers.types import ChatRequest, Endpoint, Message
from tests.clock import fixed_epoch

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
#: not key-shaped, so only knowing the key can mask it
KEY = "plain-looking-secret-42\r\n"
CORE = KEY.strip()
CHAT = ChatRequest(model="m-1", messages=(Message(role="user", content="hi"),))


@pytest.mark.parametrize(
    "text",
    [
        f"Illegal header value {('Bearer ' + KEY).encode()!r}",
        f"Illegal header value {KEY!r}",
        json.dumps({"error": {"message": f"bad key {KEY}"}}),
        json.dumps(json.dumps({"key": KEY})),
        f"x-api-key: {KEY}",
    ],
    ids=["bytes-repr", "repr", "json", "json-in-json", "raw"],
)
def test_a_key_is_masked_in_every_escaped_form(text: str) -> None:
    redacted = redact_secret(text, KEY)
    assert CORE not in redacted
    assert MASK in redacted


def test_the_forms_of_a_key_include_its_stripped_core_and_skip_short_ones() -> None:
    assert CORE in secret_forms(KEY)
    assert secret_forms("ab\r") == []


def test_key_shaped_strings_are_masked_without_knowing_the_key() -> None:
    assert "sk-abcdefghijklmnop" not in redact_secret("key sk-abcdefghijklmnop", None)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def sim(anyio_backend: str) -> AsyncIterator[Simulator]:
    accounts = [SimAccount(id="o"), SimAccount(id="a", kind="anthropic"), SimAccount(id="g", kind="gemini")]
    async with Simulator(accounts, clock=fixed_epoch) as simulator:
        yield simulator


def _adapter(http: httpx2.AsyncClient, sim: Simulator, account: str) -> ChatAdapter:
    endpoint = Endpoint(provider=account, account=account, base_url=sim.base_url(account), api_key=SecretStr(KEY))
    if account == "a":
        return AnthropicAdapter(http, endpoint, clock=lambda: NOW)
    if account == "g":
        return GeminiAdapter(http, endpoint, clock=lambda: NOW)
    return OpenAICompatAdapter(http, endpoint, clock=lambda: NOW)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("account", ["o", "a", "g"])
async def test_httpx2s_illegal_header_error_never_carries_the_key(sim: Simulator, account: str, stream: bool) -> None:
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(5.0)) as http:
        adapter = _adapter(http, sim, account)
        with anyio.fail_after(5), pytest.raises(ProviderError) as raised:
            if stream:
                [event async for event in adapter.stream(CHAT)]
            else:
                await adapter.complete(CHAT)
    error = raised.value
    assert error.error_class in ("transport", "server_error")
    for text in (str(error), error.message, getattr(error, "body", "")):
        assert CORE not in text
