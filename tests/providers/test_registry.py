from __future__ import annotations

import httpx2
import pytest

from providers.anthropic import AnthropicAdapter
from providers.gemini import GeminiAdapter
from providers.openai_compat import OpenAICompatAdapter
from providers.registry import make_adapter
from providers.types import Endpoint, WireKind
from providers.vendors import WireOptions
from tests.clock import FixedClock

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("kind", "cls"), [("openai", OpenAICompatAdapter), ("anthropic", AnthropicAdapter), ("gemini", GeminiAdapter)]
)
async def test_each_wire_kind_gets_its_own_adapter(kind: WireKind, cls: type[object]) -> None:
    async with httpx2.AsyncClient() as http:
        endpoint = Endpoint(provider="p", account="a", base_url="http://127.0.0.1:9")
        assert isinstance(make_adapter(kind, http, endpoint, WireOptions(), FixedClock()), cls)
