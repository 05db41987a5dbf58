"""Conversations: messages in order, pins, current and preferred provider; hostile ids only miss."""

from __future__ import annotations

from datetime import timedelta

import pytest

import storage.conversations
from providers.types import Message, ToolCall
from storage.conversations import Conversations, Pin, Turn, save_turn_job
from storage.db import Store
from storage.errors import ConversationNotFound
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

HOSTILE_IDS = [
    "'; DROP TABLE conversations; --",
    "../../etc/passwd",
    "x" * 65,
    "",
    "id with spaces",
    "ünïcode",
    "abc\x00def",
    "%",
]


async def test_messages_come_back_in_order_with_provider_and_tokens(store: Store) -> None:
    conversations = Conversations(store)
    created = await conversations.create(NOW)
    turns = [
        Message(role="user", content="add two numbers"),
        Message(role="assistant", tool_calls=(ToolCall(id="c1", name="add", arguments='{"a": 1, "b": 2}'),)),
        Message(role="tool", content="3", tool_call_id="c1", name="add"),
    ]
    await store.write(save_turn_job(created.id, Turn(tuple(turns[:2]), "openai", "gpt-4.1", 120, None, None), NOW))
    later = NOW + timedelta(seconds=5)
    await store.write(save_turn_job(created.id, Turn(tuple(turns[2:]), "openai", "gpt-4.1", 30, None, None), later))
    found = await conversations.get(created.id)
    assert found is not None
    assert found.messages == tuple(turns)
    assert (found.current_provider, found.current_model, found.tokens_used) == ("openai", "gpt-4.1", 150)
    assert (found.created_at, found.updated_at) == (NOW, NOW + timedelta(seconds=5))


async def test_a_conversation_is_pinned_and_unpinned(store: Store) -> None:
    conversations = Conversations(store)
    created = await conversations.create(NOW, conversation_id="chat-1")
    await conversations.pin("chat-1", "anthropic", "claude-sonnet-4", NOW)
    # Where a conversation belongs is recorded by a routed turn; the turn leaves the pin as it is.
    await store.write(save_turn_job("chat-1", Turn((), "openai", "gpt-4.1", 0, None, None, ("openai", None)), NOW))
    found = await conversations.get("chat-1")
    assert found is not None and found.pinned == Pin("anthropic", "claude-sonnet-4", NOW)
    assert found.preferred_provider == "openai"
    assert await conversations.pinned() == {created.id: Pin("anthropic", "claude-sonnet-4", NOW)}
    await conversations.pin("chat-1", None, None, NOW)
    found = await conversations.get("chat-1")
    assert found is not None and found.pinned is None


async def test_the_global_manual_switch_is_set_and_cleared(store: Store) -> None:
    conversations = Conversations(store)
    assert await conversations.global_pin() is None
    await conversations.set_global_pin("zai", "glm-4.6", NOW)
    assert await conversations.global_pin() == Pin("zai", "glm-4.6", NOW)
    await conversations.set_global_pin(None, None, NOW)
    assert await conversations.global_pin() is None


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_a_hostile_conversation_id_only_misses(store: Store, hostile: str) -> None:
    conversations = Conversations(store)
    await conversations.create(NOW, conversation_id="kept")
    assert await conversations.get(hostile) is None
    with pytest.raises(ValueError):
        await store.write(
            save_turn_job(hostile, Turn((Message(role="user", content="hi"),), "openai", "m", 0, None, None), NOW)
        )
    with pytest.raises(ConversationNotFound):
        await conversations.pin(hostile, "openai", None, NOW)
    with pytest.raises(ValueError):
        await conversations.create(NOW, conversation_id=hostile)
    assert await conversations.get("kept") is not None


async def test_an_unknown_id_misses_and_a_taken_id_is_refused(store: Store) -> None:
    conversations = Conversations(store)
    assert await conversations.get("nope") is None
    with pytest.raises(ConversationNotFound, match="omitting conversation_id"):
        await conversations.pin("nope", "openai", None, NOW)
    await conversations.create(NOW, conversation_id="taken")
    with pytest.raises(ValueError, match="already exists"):
        await conversations.create(NOW, conversation_id="taken")


async def test_a_history_read_again_is_validated_once_and_comes_back_the_same(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversations = Conversations(store)
    created = await conversations.create(NOW)
    turns = (Message(role="user", content="héllo ✓ once"), Message(role="assistant", content="answered once"))
    await store.write(save_turn_job(created.id, Turn(turns, "openai", "gpt-4.1", 12, None, None), NOW))
    first = await conversations.get(created.id)
    validated: list[str] = []

    def counted(text: str) -> Message:
        validated.append(text)
        return Message.model_validate_json(text)

    monkeypatch.setattr(storage.conversations, "_validated", counted)
    again = await conversations.get(created.id)
    assert first is not None and again is not None
    assert again.messages == first.messages == turns
    assert validated == []
