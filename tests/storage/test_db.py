"""The Store's units of work: one trip to the connection's own thread each, atomic, never abandoned half-way."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from storage.connection import Connection
from storage.db import Store
from storage.errors import StoreError


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """SQLite's own machinery (the one thread and its hops, sqlite3 errors): SQLite only."""
    async with await Store.open(tmp_path / "router.db") as opened:
        yield opened


pytestmark = pytest.mark.anyio


async def _count(store: Store, table: str = "pool_cursors") -> int:
    rows = await store.fetchall(f"SELECT COUNT(*) FROM {table}")
    return int(rows[0][0])


def _insert(conn: Connection, pool: str) -> None:
    conn.execute("INSERT INTO pool_cursors (pool, last_account, turns) VALUES (?, 'a', 1)", (pool,))


async def test_a_write_job_runs_all_its_statements_on_the_stores_thread_in_one_transaction(store: Store) -> None:
    threads: set[int] = set()

    def job(conn: Connection) -> bool:
        for pool in ("p1", "p2", "p3"):
            _insert(conn, pool)
            threads.add(threading.get_ident())
        return conn.in_transaction

    assert await store.write(job) is True
    assert threads and threading.get_ident() not in threads and len(threads) == 1
    assert await _count(store) == 3


async def test_a_job_that_raises_leaves_nothing_behind(store: Store) -> None:
    def job(conn: Connection) -> None:
        _insert(conn, "p1")
        raise LookupError("changed my mind")

    with pytest.raises(LookupError):
        await store.write(job)
    assert await _count(store) == 0


async def test_every_job_is_one_hop_whatever_it_runs(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    hops: list[object] = []
    assert store._conn is not None
    connection = store._conn._aio
    execute = connection._execute

    async def counted(fn: object, *args: object) -> object:
        hops.append(fn)
        return await execute(fn, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(connection, "_execute", counted)

    def many(conn: Connection) -> None:
        for i in range(10):
            _insert(conn, f"p{i}")

    await store.write(many)
    await store.read(lambda conn: conn.execute("SELECT * FROM pool_cursors").fetchall())
    assert len(hops) == 2


async def test_a_cancelled_caller_does_not_abandon_its_job_half_way(store: Store) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(conn: Connection) -> None:
        _insert(conn, "p1")
        started.set()
        release.wait(5)
        _insert(conn, "p2")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(store.write, slow)
            await anyio.to_thread.run_sync(started.wait, 5)
            group.cancel_scope.cancel()
            release.set()
    assert await _count(store) == 2


async def test_sqlite_errors_become_store_errors(store: Store) -> None:
    with pytest.raises(StoreError, match="no such table"):
        await store.fetchall("SELECT * FROM nowhere")


async def test_stores_opening_one_new_database_at_the_same_moment_all_open(tmp_path: Path) -> None:
    # Agents that start together open router.db together. Each switches the new file to WAL, and SQLite refuses
    # one of simultaneous switches at once (deadlock avoidance, no busy wait): that store must retry, not fail.
    # Every store's pragmas run on its own connection thread, so the switches race for real, and the refusal comes
    # at random: without the retry, about one run of this test in two failed (measured), never with it.
    for round_no in range(40):
        path = tmp_path / f"new-{round_no}.db"
        opened: list[Store] = []

        async def open_one(into: list[Store] = opened, at: Path = path) -> None:
            into.append(await Store.open(at))

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(open_one)
        assert len(opened) == 6
        for store in opened:
            await store.close()
