"""A damaged or locked database gets a clear error naming the fix; the user's file is never touched."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord
from storage.errors import StoreCorrupt, StoreLocked
from storage.ledger import Ledger, Reservation
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio


async def test_a_file_of_random_bytes_is_reported_damaged_and_left_in_place(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    garbage = random.Random(3).randbytes(64 * 1024)
    path.write_bytes(garbage)
    with pytest.raises(StoreCorrupt) as caught:
        await Store.open(path)
    message = str(caught.value)
    assert str(path) in message and "move it aside" in message and "a new one will be created" in message
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router.db"]


async def test_damaged_pages_are_reported_when_read(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path) as store:
        log = DecisionLog(store)
        for _ in range(300):
            await store.write(log.record_job(DecisionRecord(task_summary="x" * 200), NOW))
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    for offset in range(len(data) // 2, len(data)):
        data[offset] = rng.randrange(256)
    path.write_bytes(bytes(data))
    # found on opening (a damaged schema page) or on reading (a damaged table page), as the damage falls
    with pytest.raises(StoreCorrupt, match="is damaged"):
        async with await Store.open(path) as store:
            await DecisionLog(store).recent(1000)
    assert path.read_bytes() == bytes(data)


async def test_a_lock_held_past_the_busy_timeout_raises_store_locked(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path, busy_timeout_ms=100) as store:
        ledger = Ledger(store)
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            with anyio.fail_after(5), pytest.raises(StoreLocked) as caught:
                await store.write(
                    ledger.reserve_job(make_account(), "m", estimated_tokens=1, worst_case_cost_usd=0, now=NOW)
                )
            assert "100 ms" in str(caught.value) and "Fix:" in str(caught.value)
            # Readers are not blocked by a writer in WAL mode.
            await ledger.snapshot([make_account()], NOW)
            other.execute("ROLLBACK")
        # The failed transaction left the connection usable.
        assert isinstance(
            await store.write(
                ledger.reserve_job(make_account(), "m", estimated_tokens=1, worst_case_cost_usd=0, now=NOW)
            ),
            Reservation,
        )


async def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "home" / "router.db"
    async with await Store.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_an_existing_database_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path):
        pass
    os.chmod(path, 0o640)
    async with await Store.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
