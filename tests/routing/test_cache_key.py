"""The response cache's key and policy (routing.cache): what a cached answer depends on and which calls cache."""

from __future__ import annotations

import dataclasses

import pytest

from providers.types import Message, ToolSpec
from routing.cache import CacheKeyParts, cache_key, cache_ttl
from routing.preferences import DEFAULT_CACHE_TTL_S, CachePolicy

BASE = CacheKeyParts(
    system="be brief",
    messages=(Message(role="user", content="Name a prime"),),
    tools=(),
    json_output=False,
    temperature=0.0,
    max_output_tokens=100,
    provider="openai",
    model="gpt-5.2",
    scope=None,
)


def test_the_same_request_gives_the_same_key() -> None:
    again = dataclasses.replace(BASE, messages=(Message(role="user", content="Name a prime"),))
    assert cache_key(BASE) == cache_key(again)
    assert len(cache_key(BASE)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"system": "be verbose"},
        {"system": None},
        {"messages": (Message(role="user", content="Name a prime!"),)},
        {"messages": (Message(role="assistant", content="2"), Message(role="user", content="Name a prime"))},
        {"tools": (ToolSpec(name="lookup"),)},
        {"json_output": True},
        {"temperature": 0.7},
        {"max_output_tokens": 101},
        {"provider": "anthropic"},
        {"model": "gpt-5.2-mini"},
        {"scope": "conversation-a"},
        {"files": ("0" * 64,)},
    ],
)
def test_any_field_that_matters_changes_the_key(change: dict[str, object]) -> None:
    assert cache_key(dataclasses.replace(BASE, **change)) != cache_key(BASE)  # type: ignore[arg-type]


def test_two_conversation_scopes_never_share_a_key() -> None:
    a = dataclasses.replace(BASE, scope="conversation-a")
    b = dataclasses.replace(BASE, scope="conversation-b")
    assert cache_key(a) != cache_key(b)


def test_by_default_only_temperature_zero_is_cached() -> None:
    policy = CachePolicy()
    assert cache_ttl(policy, "coding", 0.0, None) == DEFAULT_CACHE_TTL_S
    assert cache_ttl(policy, "coding", None, None) is None
    assert cache_ttl(policy, "coding", 0.7, None) is None


def test_a_call_opts_in_or_bypasses_whatever_the_policy() -> None:
    policy = CachePolicy(ttl_s={"coding": 600})
    assert cache_ttl(CachePolicy(), "simple", 0.7, True) == DEFAULT_CACHE_TTL_S
    assert cache_ttl(policy, "coding", 0.0, False) is None
    assert cache_ttl(policy, "coding", 0.9, True) == 600


def test_a_task_types_ttl_widens_caching_to_any_temperature_and_zero_turns_it_off() -> None:
    policy = CachePolicy(ttl_s={"creative": 120, "simple": 0})
    assert cache_ttl(policy, "creative", 1.0, None) == 120
    assert cache_ttl(policy, "simple", 0.0, None) is None
    assert cache_ttl(policy, "coding", 0.0, None) == DEFAULT_CACHE_TTL_S


def test_an_attached_files_content_hash_is_part_of_the_key() -> None:
    one = dataclasses.replace(BASE, files=("a" * 64,))
    assert cache_key(one) == cache_key(dataclasses.replace(BASE, files=("a" * 64,)))
    assert cache_key(one) != cache_key(dataclasses.replace(BASE, files=("b" * 64,)))
