"""What the router needs from the store in one round trip each: a turn saved in one write, the conversation's task
type and history estimate (m004), the global pin and pool cursors in the snapshot, a decision with its switch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from providers.attempts import AttemptRecord
from providers.types import Message
from storage import DecisionRecord, Turn
from storage.accounts import next_in_pool_job, pool_served_job
from storage.conversations import Conversations, save_turn_job
from storage.db import Store
from storage.decisions import DecisionLog, SwitchRecord
from storage.ledger import Ledger
from storage.migrations import MIGRATIONS
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

HELLO = (Message(role="user", content="hello"), Message(role="assistant", content="hi there"))


async def test_m004_adds_the_task_type_and_history_estimate_to_existing_conversations(
    open_store: Callable[..., Awaitable[Store]],
) -> None:
    async with await open_store(migrations=MIGRATIONS[:3]) as old:
        await Conversations(old).create(NOW, conversation_id="before")
    async with await open_store() as store:
        found = await Conversations(store).get("before")
    assert found is not None and (found.last_task_type, found.history_tokens) == (None, None)


async def test_a_new_conversation_is_created_with_its_first_turn_in_one_write(store: Store) -> None:
    conversations = Conversations(store)
    turn = Turn(HELLO, "openai", "gpt-5.2", 40, "coding", 17, preferred=("openai", "gpt-5.2"))
    await store.write(save_turn_job("chat-1", turn, NOW))
    found = await conversations.get("chat-1")
    assert found is not None
    assert found.messages == HELLO
    assert (found.current_provider, found.current_model, found.preferred_provider, found.preferred_model) == (
        "openai",
        "gpt-5.2",
        "openai",
        "gpt-5.2",
    )
    assert (found.tokens_used, found.last_task_type, found.history_tokens) == (40, "coding", 17)
    assert found.created_at == found.updated_at == NOW


async def test_a_later_turn_appends_moves_and_keeps_the_preferred_provider(store: Store) -> None:
    conversations = Conversations(store)
    await store.write(save_turn_job("chat-1", Turn(HELLO, "openai", "gpt-5.2", 40, "coding", 17, ("openai", "m")), NOW))
    later = NOW + timedelta(minutes=1)
    await store.write(save_turn_job("chat-1", Turn(HELLO, "anthropic", "claude", 10, "creative", 34), later))
    found = await conversations.get("chat-1")
    assert found is not None
    assert found.messages == HELLO + HELLO
    assert (found.current_provider, found.preferred_provider, found.preferred_model) == ("anthropic", "openai", "m")
    assert (found.tokens_used, found.last_task_type, found.history_tokens) == (50, "creative", 34)
    assert (found.created_at, found.updated_at) == (NOW, later)


async def test_a_restarted_history_drops_the_earlier_messages(store: Store) -> None:
    conversations = Conversations(store)
    await store.write(save_turn_job("chat-1", Turn(HELLO, "openai", "gpt-5.2", 40, "coding", 17), NOW))
    fresh = (Message(role="user", content="again"), Message(role="assistant", content="ok"))
    await store.write(save_turn_job("chat-1", Turn(fresh, "kimi", "k2", 5, "coding", 9, restart=True), NOW))
    found = await conversations.get("chat-1")
    assert found is not None and found.messages == fresh and found.history_tokens == 9


async def test_a_malformed_id_is_refused_before_any_write(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.write(save_turn_job("no spaces", Turn(HELLO, "openai", "m", 1, None, 1), NOW))
    assert list(await store.fetchall("SELECT COUNT(*) FROM conversations")) == [(0,)]


async def test_the_snapshot_carries_the_global_pin_and_the_pool_cursors(store: Store) -> None:
    ledger = Ledger(store)
    empty = await ledger.snapshot([make_account()], NOW)
    assert (empty.global_pin, dict(empty.pool_cursors)) == (None, {})
    await Conversations(store).set_global_pin("zai", None, NOW)
    await store.write(next_in_pool_job("google", ["google-1", "google-2"]))
    snapshot = await ledger.snapshot([make_account()], NOW)
    assert snapshot.global_pin == ("zai", None)
    assert snapshot.pool_cursors == {"google": "google-1"}


async def test_a_pool_continues_after_the_account_that_actually_served(store: Store) -> None:
    pool = ["google-1", "google-2", "google-3"]
    assert await store.write(next_in_pool_job("google", pool)) == "google-1"
    await store.run(pool_served_job("google", "google-2"))  # google-1 failed; google-2 served instead
    assert await store.write(next_in_pool_job("google", pool)) == "google-3"
    await store.run(pool_served_job("other", "x"))
    assert await store.write(next_in_pool_job("other", ["x", "y"])) == "y"


async def test_a_decision_its_attempts_and_its_switch_are_written_together(store: Store) -> None:
    log = DecisionLog(store)
    attempt = AttemptRecord("kimi", "k2", "kimi", "success", 12.0, NOW)
    switch = SwitchRecord("failover", "anthropic", "claude", "kimi", "k2", "chat-1")
    decision_id = await store.write(log.record_job(DecisionRecord(task_summary="t"), NOW, [attempt], switch))
    switches = await log.switches(conversation_id="chat-1")
    assert [(s.record.reason, s.record.decision_id, s.created_at) for s in switches] == [("failover", decision_id, NOW)]
    alone = await store.write(log.record_job(DecisionRecord(task_summary="t"), NOW, switch=switch))
    assert (await log.switches(1))[0].record.decision_id == alone
