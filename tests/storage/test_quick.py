"""Quick units of work: on the event loop when router.db's lock is free, on the store's thread when it is not."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

import storage.db
from storage.connection import Connection
from storage.db import Store
from storage.errors import StoreError, StoreLocked
from storage.quick import CHECKPOINT_EVERY


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """SQLite's own machinery (the on-loop connection, no busy wait, WAL checkpoints): SQLite only."""
    async with await Store.open(tmp_path / "router.db") as opened:
        yield opened


pytestmark = pytest.mark.anyio


async def _count(store: Store, table: str = "pool_cursors") -> int:
    rows = await store.fetchall(f"SELECT COUNT(*) FROM {table}")
    return int(rows[0][0])


def _insert(conn: Connection, pool: str) -> None:
    conn.execute("INSERT INTO pool_cursors (pool, last_account, turns) VALUES (?, 'a', 1)", (pool,))


@contextmanager
def _count_hops(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    hops: list[object] = []
    assert store._conn is not None
    connection = store._conn._aio
    execute = connection._execute

    async def counted(fn: object, *args: object) -> object:
        hops.append(fn)
        return await execute(fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(connection, "_execute", counted)
    yield hops


@contextmanager
def _write_lock_held(path: Path) -> Iterator[Connection]:
    """Another connection (as another process would) holding router.db's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def test_a_quick_write_with_the_lock_free_runs_on_the_event_loop_without_a_hop(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[int] = set()

    def job(conn: Connection) -> bool:
        _insert(conn, "p1")
        _insert(conn, "p2")
        threads.add(threading.get_ident())
        return conn.in_transaction

    with _count_hops(store, monkeypatch) as hops:
        assert await store.quick_write(job) is True
        rows = await store.quick_read(lambda conn: conn.execute("SELECT pool FROM pool_cursors").fetchall())
    assert hops == []
    assert threads == {threading.get_ident()}
    assert sorted(row[0] for row in rows) == ["p1", "p2"]


async def test_a_quick_write_meeting_another_writers_lock_waits_for_it_on_the_stores_thread(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _write_lock_held(store.path) as other, _count_hops(store, monkeypatch) as hops:
        write = store.write

        async def lock_freed_then_write(job: object, **kwargs: object) -> object:
            # the quick attempt found the lock taken; the holder commits while the thread path waits
            other.execute("COMMIT")
            return await write(job, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "write", lock_freed_then_write)
        await store.quick_write(lambda conn: _insert(conn, "p1"))
    assert len(hops) == 1
    assert await _count(store) == 1


async def test_a_quick_write_gives_up_like_a_write_when_the_lock_stays_taken_past_the_busy_timeout(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "router.db", busy_timeout_ms=50) as store:
        with _write_lock_held(store.path), pytest.raises(StoreLocked):
            await store.quick_write(lambda conn: _insert(conn, "p1"))
        assert await _count(store) == 0


async def test_a_quick_job_that_raises_leaves_nothing_behind_and_the_next_one_runs(store: Store) -> None:
    def job(conn: Connection) -> None:
        _insert(conn, "p1")
        raise LookupError("changed my mind")

    with pytest.raises(LookupError):
        await store.quick_write(job)
    await store.quick_write(lambda conn: _insert(conn, "p2"))
    rows = await store.fetchall("SELECT pool FROM pool_cursors")
    assert [row[0] for row in rows] == ["p2"]


async def test_a_quick_write_whose_commit_fails_is_rolled_back_and_the_connection_stays_usable(store: Store) -> None:
    await store.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await store.execute("CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")

    def orphan(conn: Connection) -> None:
        _insert(conn, "p1")
        conn.execute("INSERT INTO child (parent) VALUES (42)")  # checked only at COMMIT

    with pytest.raises(StoreError, match="FOREIGN KEY"):
        await store.quick_write(orphan)
    await store.quick_write(lambda conn: _insert(conn, "p2"))
    rows = await store.fetchall("SELECT pool FROM pool_cursors")
    assert [row[0] for row in rows] == ["p2"]
    assert await _count(store, "child") == 0


async def test_every_so_many_quick_writes_queue_a_checkpoint_of_the_wal_that_no_caller_awaits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[None] = []
    checkpoint_later = store.checkpoint_later

    def counted() -> None:
        queued.append(None)
        checkpoint_later()

    async def awaited() -> None:
        raise AssertionError("a quick write awaited a checkpoint")

    monkeypatch.setattr(store, "checkpoint_later", counted)
    monkeypatch.setattr(store, "checkpoint", awaited)
    for i in range(CHECKPOINT_EVERY * 2 + 1):
        await store.quick_write(functools.partial(_insert, pool=f"p{i}"))
    assert len(queued) == 2
    assert await _count(store) == CHECKPOINT_EVERY * 2 + 1


async def test_a_queued_checkpoint_runs_on_the_stores_thread_in_order_and_its_failure_harms_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []

    def failing(conn: Connection) -> object:
        threads.append(threading.get_ident())
        raise sqlite3.OperationalError("database table is locked")

    monkeypatch.setattr(storage.db, "_checkpoint_job", failing)
    store.checkpoint_later()
    await store.quick_write(functools.partial(_insert, pool="p1"))
    # the thread runs its queue in order: once later work on it is done, the checkpoint has run there
    assert await _count(store) == 1
    assert threads and threads[0] != threading.get_ident()


async def test_quick_work_asked_from_another_thread_takes_the_stores_thread(store: Store) -> None:
    threads: list[int] = []

    def job(conn: Connection) -> None:
        _insert(conn, "p1")
        threads.append(threading.get_ident())

    def elsewhere() -> int:
        anyio.run(store.quick_write, job)
        return threading.get_ident()

    caller = await anyio.to_thread.run_sync(elsewhere)
    assert threads and threads[0] not in (caller, threading.get_ident())
    assert await _count(store) == 1
