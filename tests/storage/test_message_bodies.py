"""Message bodies live out of line (m008): an old history upgrades in order, bodies go with their conversation,
and a long turn beside one very large message is written in well under a second or two (it took ~15 s)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from providers.types import Message
from storage import Conversations, Store, Turn
from storage.conversations import save_turn_job
from storage.migrations import MIGRATIONS
from storage.retention import conversations_batch_job
from storage.windows import to_ms
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

BEFORE_BODIES = MIGRATIONS[: [m.__name__ for m in MIGRATIONS].index("m008_message_bodies_out_of_line")]


def _turn(*texts: str) -> Turn:
    messages = [Message(role="user" if n % 2 == 0 else "assistant", content=text) for n, text in enumerate(texts)]
    return Turn(messages=messages, provider="p", model="m", tokens=1, task_type=None, history_tokens=1)


async def _count(store: Store, sql: str) -> int:
    return int((await store.fetchall(sql))[0][0])


async def test_an_old_history_keeps_its_messages_in_order_after_the_bodies_move(
    open_store: Callable[..., Awaitable[Store]],
) -> None:
    async with await open_store(migrations=BEFORE_BODIES) as old:
        await old.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES ('b', 0, 0), ('a', 0, 0)")
        for cid, seq, text in (("b", 2, "b2"), ("a", 1, "a1"), ("b", 1, "b1"), ("a", 2, "a2")):
            body = Message(role="user", content=text).model_dump_json()
            await old.execute("INSERT INTO conversation_messages VALUES (?, ?, ?)", (cid, seq, body))
    async with await open_store() as store:
        conversations = Conversations(store)
        for cid in ("a", "b"):
            found = await conversations.get(cid)
            assert found is not None and [m.content for m in found.messages] == [f"{cid}1", f"{cid}2"]
        await store.write(save_turn_job("a", _turn("a3"), NOW))
        found = await conversations.get("a")
        assert found is not None and [m.content for m in found.messages] == ["a1", "a2", "a3"]
        assert await _count(store, "SELECT COUNT(*) FROM message_bodies") == 5


async def test_deleting_a_conversation_or_restarting_its_history_deletes_the_bodies(store: Store) -> None:
    await store.write(save_turn_job("old", _turn("one", "two"), NOW))
    await store.write(save_turn_job("kept", _turn("three"), NOW))
    restart = Turn(messages=[Message(role="user", content="fresh")], provider="p", model="m", tokens=1,
                   task_type=None, history_tokens=1, restart=True)  # fmt: skip
    await store.write(save_turn_job("kept", restart, NOW))
    assert await _count(store, "SELECT COUNT(*) FROM message_bodies") == 3
    assert await store.write(conversations_batch_job(to_ms(NOW.replace(year=2027)), 10)) == (2, 3)
    assert await _count(store, "SELECT COUNT(*) FROM message_bodies") == 0


async def test_ten_thousand_messages_beside_a_five_megabyte_one_are_saved_quickly(store: Store) -> None:
    conversations = Conversations(store)
    await store.write(save_turn_job("a" * 32, _turn("x" * 5_000_000), NOW))
    many = _turn(*(f"m{n}" for n in range(10_000)))
    started = time.perf_counter()
    await store.write(save_turn_job("b" * 32, many, NOW))
    elapsed = time.perf_counter() - started
    found = await conversations.get("b" * 32)
    assert found is not None and len(found.messages) == 10_000 and found.messages[-1].content == "m9999"
    assert elapsed < 3.0  # 15-17 s while the bodies were stored in the WITHOUT ROWID key table
