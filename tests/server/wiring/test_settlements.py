"""A request's end that meets router.db locked is kept beside it and applied once the lock frees: the answer is
never thrown away, the settlement never lost and never counted twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from providers.attempts import AttemptRecord
from providers.types import Message, RateLimits, Usage
from routing.ports import (
    Change,
    CoolDown,
    DecisionLogEntry,
    Disable,
    Exhaust,
    Failed,
    Hold,
    Learn,
    Observe,
    PoolServed,
    Release,
    RetireModel,
    SavedTurn,
    Settle,
    Succeeded,
)
from server.config.paths import Paths
from server.config.types import RouterSettings
from server.wiring.app import open_app
from server.wiring.bookkeeping_port import StoreBookkeeping, finish_job
from server.wiring.identity import acting_as
from server.wiring.maintenance import housekeeping
from server.wiring.settlements import (
    decode_change,
    decode_unit,
    encode_change,
    encode_unit,
    journal_of,
    settle_pending,
)
from storage import Conversations, DecisionLog, Ledger, Reservation, Store, StoreLocked, Turn
from storage.conversations import save_turn_job
from storage.team import Member
from tests.clock import FixedClock
from tests.damaged_db import held_exclusive
from tests.harness import ENV
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

#: short, so a held lock is met quickly
BUSY_MS = 100


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "router.db", busy_timeout_ms=BUSY_MS) as opened:
        yield opened


async def _reserve(store: Store) -> Reservation:
    held = await store.write(
        Ledger(store).reserve_job(make_account(), "m", estimated_tokens=50, worst_case_cost_usd=0.5, now=NOW)
    )
    assert isinstance(held, Reservation)
    return held


def _end(reservation: Reservation, conversation: str = "c1") -> tuple[list[Change], DecisionLogEntry, SavedTurn]:
    changes: list[Change] = [Settle(Hold(reservation), Usage(input_tokens=12, output_tokens=8), 0.02),
                             Succeeded("acct-1", "m")]  # fmt: skip
    attempt = AttemptRecord("p", "m", "acct-1", "success", 3000.0, NOW, usage=Usage(input_tokens=12, output_tokens=8),
                            cost_usd=0.02)  # fmt: skip
    entry = DecisionLogEntry("a task", {"ranked": [{"provider": "p"}], "excluded": []}, (attempt,), "p", "m",
                             "acct-1", "preference", 0.9, "coding", "balanced", conversation, False, None)  # fmt: skip
    turn = SavedTurn(conversation, (Message(role="user", content="q"), Message(role="assistant", content="a")), "p",
                     "m", 20, "coding", 4)  # fmt: skip
    return changes, entry, turn


async def _counts(store: Store) -> tuple[int, int, int, int]:
    """(decisions, settled reservations, requests counted today, messages saved)."""
    rows = await store.fetchall(
        "SELECT (SELECT COUNT(*) FROM decisions), (SELECT COUNT(*) FROM reservations WHERE state = 'settled'), "
        "(SELECT COALESCE(MAX(requests), 0) FROM usage_counters WHERE account = '' AND period = '2026-11-28'), "
        "(SELECT COUNT(*) FROM conversation_messages)"
    )
    return tuple(rows[0])


async def test_every_change_and_the_whole_unit_survive_the_journal_unchanged() -> None:
    reservation = Reservation(7, "acct-1", "m", 50, 0.5, NOW, NOW + timedelta(minutes=15))
    limits = RateLimits(requests_limit=60, requests_reset_at=NOW, retry_after_s=1.5)
    changes: list[Change] = [
        Settle(Hold(reservation), Usage(input_tokens=1, output_tokens=2, reasoning_tokens=1), 0.125),
        Release(Hold(reservation)), CoolDown("a", "m", NOW, "rate limited"), Exhaust("a", None, NOW, "quota"),
        Disable("a", "key refused"), RetireModel("p", "m", "gone"), Failed("a", "m"), Succeeded("a", "m"),
        Learn("a", "m", limits), PoolServed("pool", "a"), Observe("p", "m", "a", True, 120.5, 80.0, "coding", 400),
    ]  # fmt: skip
    for change in changes:
        assert decode_change(json.loads(json.dumps(encode_change(change)))) == change
    _, entry, turn = _end(reservation)
    unit = json.loads(json.dumps(encode_unit(changes, entry, turn, NOW)))
    assert decode_unit(unit) == (changes, entry, turn, NOW)


async def test_a_locked_database_keeps_the_end_beside_it_and_the_next_request_applies_it_once(store: Store) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    journal = journal_of(store)
    first = await _reserve(store)
    with held_exclusive(store.path):
        assert await bookkeeping.finish(*_end(first), NOW) is None
        assert journal.waiting() and len(await journal.entries()) == 1
    assert await _counts(store) == (0, 0, 0, 0)
    # the lock freed: the next request's end applies the kept one with its own
    second = await _reserve(store)
    assert await bookkeeping.finish(*_end(second, "c2"), NOW) is not None
    assert await _counts(store) == (2, 2, 2, 4)
    assert not journal.waiting()
    rows = await store.fetchall("SELECT conversation_id FROM decisions ORDER BY id")
    assert sorted(row[0] for row in rows) == ["c1", "c2"]


async def test_a_kept_end_is_attributed_to_the_member_who_asked_when_another_request_applies_it(
    store: Store,
) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    first = await _reserve(store)
    with acting_as(Member("ada")), held_exclusive(store.path):
        assert await bookkeeping.finish(*_end(first), NOW) is None
    second = await _reserve(store)
    with acting_as(Member("bob")):
        assert await bookkeeping.finish(*_end(second, "c2"), NOW) is not None
    rows = await store.fetchall("SELECT conversation_id, member FROM decisions ORDER BY conversation_id")
    assert [tuple(row) for row in rows] == [("c1", "ada"), ("c2", "bob")]


async def test_a_kept_unit_whose_member_is_not_a_name_is_set_aside_not_applied(store: Store) -> None:
    reservation = await _reserve(store)
    unit = {**encode_unit(*_end(reservation), NOW), "member": ["ada"]}
    journal = journal_of(store)
    await journal.append(unit)
    await settle_pending(store, DecisionLog(store), finish_job, NOW)
    assert await _counts(store) == (0, 0, 0, 0)
    assert journal.rejected_path.read_text()


async def test_a_unit_replayed_after_a_crash_is_recognised_and_not_counted_twice(store: Store) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    journal = journal_of(store)
    reservation = await _reserve(store)
    with held_exclusive(store.path):
        assert await bookkeeping.finish(*_end(reservation), NOW) is None
    kept = journal.path.read_text()
    async with open_app(Paths.in_home(store.path.parent), ENV, clock=FixedClock(NOW)) as app:
        assert await _counts(app.store) == (1, 1, 1, 2)
    # a crash between the commit and the emptying of the journal leaves the line: it is applied no more
    journal.path.write_text(kept)
    async with open_app(Paths.in_home(store.path.parent), ENV, clock=FixedClock(NOW)) as app:
        assert await _counts(app.store) == (1, 1, 1, 2)
    assert not journal.waiting()


async def test_an_unreadable_line_is_kept_aside_and_the_others_applied(store: Store) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    journal = journal_of(store)
    reservation = await _reserve(store)
    with held_exclusive(store.path):
        assert await bookkeeping.finish(*_end(reservation), NOW) is None
    with journal.path.open("a") as file:
        file.write('{"id": "torn", "unit": {"v": 1, "kind": "fin')
    assert await bookkeeping.finish(*_end(await _reserve(store), "c2"), NOW) is not None
    assert await _counts(store) == (2, 2, 2, 4)
    assert journal.path.read_text() == ""
    assert journal.rejected_path.read_text().startswith('{"id": "torn"')


class Ticks:
    """The retry loop's wait, driven by the test: `tick` lets one try run and returns once it is over."""

    def __init__(self) -> None:
        self.waiting = anyio.Event()
        self._go = anyio.Event()

    async def wait(self, _seconds: float) -> None:
        go = self._go
        self.waiting.set()
        await go.wait()

    async def tick(self) -> None:
        await self.waiting.wait()
        self.waiting = anyio.Event()
        go, self._go = self._go, anyio.Event()
        go.set()
        await self.waiting.wait()


async def test_an_idle_server_applies_the_kept_end_as_soon_as_the_lock_frees(store: Store) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    ticks = Ticks()
    reservation = await _reserve(store)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: housekeeping(store, lambda: DecisionLog(store), RouterSettings, lambda: NOW, wait=ticks.wait)
            )
            with held_exclusive(store.path):
                assert await bookkeeping.finish(*_end(reservation), NOW) is None
                await ticks.tick()  # a try while the lock is held: the unit stays
                assert journal_of(store).waiting()
            await ticks.tick()
            group.cancel_scope.cancel()
    assert not journal_of(store).waiting()
    assert await _counts(store) == (1, 1, 1, 2)


async def test_a_long_running_server_redoes_the_retention_hourly(store: Store) -> None:
    clock = FixedClock(NOW)
    conversations = Conversations(store)
    await store.write(save_turn_job("idle", _turn_of("old question"), NOW))
    settings = RouterSettings(conversation_retention_hours=2)
    ticks = Ticks()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: housekeeping(store, lambda: DecisionLog(store), lambda: settings, clock,
                                                  wait=ticks.wait))  # fmt: skip
            await ticks.waiting.wait()  # started: the hour counts from here
            clock.advance(minutes=59)
            await ticks.tick()
            kept = await conversations.get("idle")
            clock.advance(hours=2)
            await ticks.tick()
            group.cancel_scope.cancel()
    assert kept is not None and await conversations.get("idle") is None


def _turn_of(text: str) -> Turn:
    return Turn(messages=[Message(role="user", content=text)], provider="p", model="m", tokens=1, task_type=None,
                history_tokens=1)  # fmt: skip


async def test_when_the_journal_cannot_be_written_either_the_lock_error_stands(store: Store) -> None:
    bookkeeping = StoreBookkeeping(store, DecisionLog(store))
    journal_of(store).path.mkdir()  # not a file: nothing can be appended to it
    reservation = await _reserve(store)
    with held_exclusive(store.path), pytest.raises(StoreLocked, match="stayed locked"):
        await bookkeeping.finish(*_end(reservation), NOW)
