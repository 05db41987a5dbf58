"""`Store`: the one aiosqlite connection of a process to the shared router.db, and its transactions.

Several processes (one stdio server per agent) share the file, so it runs in WAL mode with a busy timeout,
and every read-check-write happens inside `Store.write()`, a `BEGIN IMMEDIATE` transaction: SQLite then
serialises writers across processes, which is what makes quotas and budgets exact. Within a process an
`anyio.Lock` serialises the tasks sharing the connection. `sqlite3` errors become `StoreError`s here, once.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite
import anyio

from storage.errors import StoreError, translate
from storage.migrations import MIGRATIONS, Migration, migrate

DEFAULT_BUSY_TIMEOUT_MS = 5000

Params = Sequence[Any] | dict[str, Any]


class Store:
    """The shared SQLite store. Open with `await Store.open(path)` or `async with await Store.open(path)`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, busy_timeout_ms: int) -> None:
        self._conn = conn
        self._lock = anyio.Lock()
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        #: who holds this process's reservations (diagnostics; expiry is by time, not by liveness)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> Store:
        """Open (creating with mode 0600 if absent) and migrate the database at `path`.

        Raises:
            StoreCorrupt: the file is not a database or is damaged (it is left untouched).
            StoreLocked: another connection held a lock past `busy_timeout_ms`.
            StoreTooNew: the database was migrated by a newer version.
            StoreError: any other failure to open it.
        """
        db_path = Path(path)
        _create_private(db_path)
        try:
            conn = await aiosqlite.connect(db_path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        except sqlite3.Error as error:
            raise translate(error, db_path, busy_timeout_ms=busy_timeout_ms) from error
        store = cls(conn, db_path, busy_timeout_ms)
        try:
            await store._configure()
            await migrate(store, migrations)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection; pending reservations of this process stay until settled or expired."""
        with anyio.CancelScope(shield=True):
            await self._conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _configure(self) -> None:
        async with self._lock:
            with self._translated():
                await self._conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                await self._conn.execute("PRAGMA foreign_keys = ON")
                await self._conn.execute("PRAGMA journal_mode = WAL")
                await self._conn.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise translate(error, self.path, busy_timeout_ms=self.busy_timeout_ms) from error

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A `BEGIN IMMEDIATE` transaction: committed on exit, rolled back on any exception or cancellation.

        Raises:
            StoreLocked: the write lock could not be had within the busy timeout.
            StoreCorrupt, StoreError: from any statement run inside.
        """
        async with self._lock, self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A deferred transaction: every statement inside sees the same snapshot of the database."""
        async with self._lock, self._transaction("BEGIN") as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, begin: str) -> AsyncIterator[aiosqlite.Connection]:
        with self._translated():
            await self._conn.execute(begin)
            try:
                yield self._conn
            except BaseException:
                # Shielded: a cancelled caller must not leave the shared connection inside a transaction.
                with anyio.CancelScope(shield=True):
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                raise
            with anyio.CancelScope(shield=True):
                await self._conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Params = ()) -> Iterable[sqlite3.Row]:
        """Rows of one read statement (autocommit: one statement is its own consistent snapshot)."""
        async with self._lock:
            with self._translated():
                return await self._conn.execute_fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement atomically on its own; returns the number of rows it changed."""
        async with self._lock:
            with self._translated():
                # No cursor.close(): a finished DML statement holds nothing, and closing is another round trip.
                cursor = await self._conn.execute(sql, params)
                return cursor.rowcount

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT atomically on its own (one round trip); returns the new row's id."""
        async with self._lock:
            with self._translated():
                row = await self._conn.execute_insert(sql, params)
        assert row is not None
        return int(row[0])

    async def integrity_check(self) -> list[str]:
        """`PRAGMA integrity_check`: `["ok"]` for a sound database, otherwise the problems found.

        Raises:
            StoreCorrupt: the database is too damaged to be checked at all.
        """
        return [str(row[0]) for row in await self.fetchall("PRAGMA integrity_check")]

    async def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded in this database, in the order they were applied."""
        return [str(row[0]) for row in await self.fetchall("SELECT name FROM _migrations ORDER BY rowid")]


def _create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only; an existing file is never touched."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as error:
        raise StoreError(
            f"router.db at {path} cannot be created ({error.strerror}). Fix: check the permissions of {path.parent}.",
            path=path,
        ) from error
    os.close(fd)
