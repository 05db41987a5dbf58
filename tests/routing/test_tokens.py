"""Token estimates: tiktoken loaded offline from verified data, margins per provider, never a failed request."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from providers.types import Message, ToolCall
from routing import tokens
from routing.types import DEFAULT_TOKEN_MARGIN, token_margin


def test_o200k_counts_match_tiktokens_known_values() -> None:
    assert tokens.count_text("hello world") == 2
    assert tokens.count_text("") == 0


def test_cl100k_loads_from_the_same_offline_data() -> None:
    assert tokens.count_text("hello world", "cl100k_base") == 2


def test_special_token_text_in_a_prompt_is_counted_as_ordinary_text() -> None:
    assert tokens.count_text("<|endoftext|>") > 1


def test_a_request_counts_its_system_prompt_messages_tool_calls_and_framing() -> None:
    messages = [
        Message(role="user", content="hello world"),
        Message(role="assistant", tool_calls=(ToolCall(id="1", name="search", arguments='{"q": "x"}'),)),
    ]
    bare = tokens.estimate_tokens(messages)
    assert tokens.estimate_tokens(messages, "be brief") == bare + tokens.MESSAGE_OVERHEAD + 2
    assert bare > 2 + 2 * tokens.MESSAGE_OVERHEAD


@pytest.mark.parametrize(
    ("provider", "margin"),
    [
        ("openai", 1.0),
        ("anthropic", 1.35),
        ("google", 1.15),
        ("gemini", 1.15),
        ("kimi", 1.2),
        ("moonshot", 1.2),
        ("zai", 1.2),
    ],
)
def test_known_providers_get_their_documented_margin(provider: str, margin: float) -> None:
    assert token_margin(provider) == margin


def test_an_unknown_provider_gets_the_cautious_default_or_its_wire_protocols_margin() -> None:
    assert token_margin("my-proxy") == DEFAULT_TOKEN_MARGIN
    assert token_margin("my-proxy", "anthropic") == token_margin("anthropic")


def test_a_provider_estimate_applies_the_margin_rounding_up() -> None:
    messages = [Message(role="user", content="hello world " * 100)]
    base = tokens.estimate_tokens(messages)
    assert tokens.estimate_tokens(messages, provider="anthropic") == -(-base * 135 // 100)


def test_a_huge_text_is_estimated_from_a_sample_and_rounded_up() -> None:
    text = "def handler(event):\n    return event['id']\n" * 10_000
    encoding = tokens.get_encoding()
    assert encoding is not None
    exact = len(encoding.encode_ordinary(text))
    estimate = tokens.count_text(text)
    assert exact <= estimate <= exact * 1.2


def test_a_tokenizer_that_cannot_load_degrades_to_a_byte_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_failed", set())
    monkeypatch.setitem(tokens._EXPECTED_SHA256, "o200k_base", "0" * 64)
    assert not tokens.preload()
    text = "héllo wörld, how are you?"
    assert tokens.count_text(text) == tokens.fallback_count(text) >= len(text.encode()) / 2


def test_the_fallback_overestimates_the_real_tokenizer() -> None:
    samples = (
        "The quick brown fox jumps over the lazy dog.",
        "def f(x):\n    return x ** 2\n",
        "if (a[i] != b[j]) { return -1; }",
        "数据库配额已用完",
    )
    for text in samples:
        assert tokens.fallback_count(text) >= tokens.count_text(text)


def test_concurrent_first_use_loads_the_encoding_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_failed", set())
    builds: list[str] = []
    real_build = tokens._build

    def counting_build(name: str) -> Any:
        builds.append(name)
        return real_build(name)

    monkeypatch.setattr(tokens, "_build", counting_build)
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(tokens.get_encoding("cl100k_base"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert builds == ["cl100k_base"]
    assert len({id(encoding) for encoding in seen}) == 1


@pytest.mark.anyio
async def test_ready_loads_the_tokenizer_in_a_worker_thread_once(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = tokens.get_encoding

    def spy(name: tokens.EncodingName = "o200k_base") -> object:
        threads.append(threading.get_ident())
        return real(name)

    monkeypatch.setattr(tokens, "get_encoding", spy)
    monkeypatch.setattr(tokens, "_encodings", {})
    await tokens.ready()
    await tokens.ready()
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert tokens.count_text("hello world") == 2


@pytest.mark.anyio
async def test_ready_never_raises_when_the_tokenizer_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_failed", set())
    monkeypatch.setitem(tokens._EXPECTED_SHA256, "o200k_base", "0" * 64)
    await tokens.ready()
    assert tokens.count_text("hello world") == tokens.fallback_count("hello world")
