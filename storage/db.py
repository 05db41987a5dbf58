"""`Store`: the one connection of a process to the shared router.db (or PostgreSQL), and its units of work.

Several processes (one stdio server per agent) share the file, so it runs in WAL mode with a busy timeout, and
every read-check-write happens inside `Store.write(job)`, a `BEGIN IMMEDIATE` transaction: SQLite then serialises
writers across processes, which is what makes quotas and budgets exact.

A *job* is a plain function of the `sqlite3.Connection` that runs any number of statements. The connection lives
on aiosqlite's thread (SQLite blocks; the event loop must not), and each job is ONE hop to that thread
and back, however many statements it runs — a thread hop costs more here than a typical statement. Jobs run one
at a time in the order they were submitted, which also serialises the tasks of this process. Short jobs of the
request path go through `quick_write`/`quick_read` instead, which run them on the event loop when no lock is in the
way (storage/quick.py) and on the thread otherwise. `sqlite3` errors become `StoreError`s here, once.

On PostgreSQL (`Store.open(..., database=Database("postgresql", url=…))`) the same jobs run on a pooled connection
(storage/postgres.py): `write` serialised with every writer of every node by an advisory lock, `read` on a snapshot,
`run` (and `execute`/`insert`) as a write, `quick_*` as their plain forms; psycopg errors become `StoreError`s here.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
import anyio

from storage.connection import Connection
from storage.database_url import Database
from storage.errors import StoreError, translate, translate_postgres
from storage.migrations import MIGRATIONS, Migration, migrate
from storage.quick import CHECKPOINT_EVERY, Busy, QuickConnection, is_busy

if TYPE_CHECKING:  # psycopg loads only for a PostgreSQL store: a SQLite start does not pay its import
    from storage.postgres import Mode, PgBackend

DEFAULT_BUSY_TIMEOUT_MS = 5000

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
#: a unit of work: statements run on the store's connection, on its thread
Job = Callable[[Connection], T]


class _Connection:
    """aiosqlite's connection thread, used for whole units of work rather than statement by statement.

    aiosqlite runs every call on the one thread that owns the sqlite3 connection; its public API makes each
    statement its own hop, and a hop costs more here than a typical statement. `_execute(fn, *args)` is the
    primitive under that API (it queues `fn` on the thread and awaits the result): the one place we reach it.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._aio = connection

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int) -> _Connection:
        connection = aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        # a store that is never closed must not keep the process alive at exit
        connection._thread.daemon = True
        try:
            await connection
            await _configure_when_free(connection, busy_timeout_ms)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await connection.close()
            raise
        return cls(connection)

    async def run(self, job: Job[T]) -> T:
        result: T = await self._aio._execute(job, self._aio._conn)  # type: ignore[no-untyped-call]
        return result

    def submit(self, job: Job[object]) -> None:
        """Queue `job` on the thread and return at once: nobody awaits it, and what it raises is dropped (the
        thread runs queued work in order, so a later `close` still waits for it)."""
        self._aio._tx.put_nowait((None, functools.partial(job, self._aio._conn)))

    async def close(self) -> None:
        await self._aio.close()


def _transaction(begin: str, job: Job[T]) -> Job[T]:
    """`job` inside `begin` … COMMIT, rolled back if it raises."""

    def run(conn: Connection) -> T:
        conn.execute(begin)
        try:
            result = job(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    return run


def _waiting(wait_ms: int, usual_ms: int, job: Job[T]) -> Job[T]:
    """`job` with the connection's busy timeout set to `wait_ms` while it runs."""

    def run(conn: Connection) -> T:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            return job(conn)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(usual_ms)}")

    return run


class Store:
    """The shared SQLite store. Open with `await Store.open(path)` or `async with await Store.open(path)`."""

    def __init__(self, conn: _Connection | None, path: Path, busy_timeout_ms: int, pg: PgBackend | None = None) -> None:
        self._conn = conn
        #: the PostgreSQL backend, when the store lives there (then `_conn` is None)
        self._pg = pg
        #: "sqlite" or "postgresql"
        self.backend = "postgresql" if pg is not None else "sqlite"
        #: where the data is, as it may be shown: the file, or the URL without its password
        self.location = f"the PostgreSQL database {pg.shown}" if pg is not None else f"router.db at {path}"
        #: the on-loop connection of `quick_write`/`quick_read` (opened once the file is migrated)
        self._quick: QuickConnection | None = None
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
        database: Database | None = None,
    ) -> Store:
        """Open (creating with mode 0600 if absent) and migrate the database at `path`, or the PostgreSQL database
        `database` names (then `path` is only where this process keeps its journal: `router.db.pending`).

        Raises:
            StoreCorrupt: the file is not a database or is damaged (it is left untouched).
            StoreLocked: another connection held a lock past `busy_timeout_ms`.
            StoreTooNew: the database was migrated by a newer version.
            StoreError: any other failure to open it.
        """
        if database is not None and database.kind == "postgresql":
            return await cls._open_postgres(Path(path), database.url, busy_timeout_ms, migrations)
        db_path = Path(path) if database is None or database.path is None else database.path
        _create_private(db_path)
        try:
            conn = await _Connection.open(db_path, busy_timeout_ms)
        except sqlite3.Error as error:
            raise translate(error, db_path, busy_timeout_ms=busy_timeout_ms) from error
        store = cls(conn, db_path, busy_timeout_ms)
        try:
            await migrate(store, migrations)
            store._quick = QuickConnection.open(db_path)
        except sqlite3.Error as error:
            with anyio.CancelScope(shield=True):
                await store.close()
            raise translate(error, db_path, busy_timeout_ms=busy_timeout_ms) from error
        except BaseException:
            with anyio.CancelScope(shield=True):
                await store.close()
            raise
        return store

    @classmethod
    async def _open_postgres(cls, path: Path, url: str, busy_timeout_ms: int, migrations: Sequence[Migration]) -> Store:
        import psycopg

        from storage.postgres import PgBackend

        try:
            pg = await PgBackend.open(url, busy_timeout_ms)
        except psycopg.Error as error:
            raise translate_postgres(error, url, path, lock_timeout_ms=busy_timeout_ms) from error
        store = cls(None, path, busy_timeout_ms, pg)
        try:
            await migrate(store, migrations)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await store.close()
            raise
        return store

    async def _on_postgres(self, pg: PgBackend, job: Job[T], mode: Mode, wait_ms: int | None = None) -> T:
        import psycopg

        with anyio.CancelScope(shield=True):
            try:
                result = await pg.run(job, mode, wait_ms)
            except psycopg.Error as error:
                shown_wait = self.busy_timeout_ms if wait_ms is None else wait_ms
                raise translate_postgres(error, pg.url, self.path, lock_timeout_ms=shown_wait) from error
        return result

    async def close(self) -> None:
        """Close the connection; pending reservations of this process stay until settled or expired."""
        quick, self._quick = self._quick, None
        if quick is not None:
            quick.close()
        with anyio.CancelScope(shield=True):
            if self._pg is not None:
                await self._pg.close()
            if self._conn is not None:
                await self._conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def run(self, job: Job[T]) -> T:
        """Run `job` on the connection in autocommit mode (each statement its own transaction), in one hop.

        Shielded: a job that started is seen to its end, so a cancelled caller never leaves half of one undone.

        Raises:
            StoreLocked, StoreCorrupt, StoreError: from any statement of `job`.
        """
        if self._pg is not None:  # one transaction, serialised with every writer (a lone statement is one too)
            return await self._on_postgres(self._pg, job, "write")
        assert self._conn is not None
        with anyio.CancelScope(shield=True):
            try:
                result = await self._conn.run(job)
            except sqlite3.Error as error:
                raise translate(error, self.path, busy_timeout_ms=self.busy_timeout_ms) from error
        return result

    async def write(self, job: Job[T], *, busy_timeout_ms: int | None = None) -> T:
        """Run `job` in one `BEGIN IMMEDIATE` transaction (one hop): committed when it returns, rolled back when it
        raises. Its reads and writes are atomic across every process sharing the file.

        `busy_timeout_ms` waits that long (instead of the store's busy timeout) for the write lock: work that can
        wait for a later chance (start-up housekeeping) need not hold up its caller behind another process's lock.

        Raises:
            StoreLocked: the write lock could not be had within the busy timeout.
            StoreCorrupt, StoreError: from any statement of `job`.
        """
        if self._pg is not None:
            return await self._on_postgres(self._pg, job, "write", busy_timeout_ms)
        assert self._conn is not None
        if busy_timeout_ms is None:
            return await self.run(_transaction("BEGIN IMMEDIATE", job))
        waiting = _waiting(busy_timeout_ms, self.busy_timeout_ms, _transaction("BEGIN IMMEDIATE", job))
        with anyio.CancelScope(shield=True):
            try:
                result = await self._conn.run(waiting)
            except sqlite3.Error as error:
                raise translate(error, self.path, busy_timeout_ms=busy_timeout_ms) from error
        return result

    async def read(self, job: Job[T]) -> T:
        """Run `job` in one deferred transaction (one hop): every statement sees the same snapshot of the database."""
        if self._pg is not None:
            return await self._on_postgres(self._pg, job, "read")
        return await self.run(_transaction("BEGIN", job))

    async def quick_write(self, job: Job[T]) -> T:
        """`write(job)` for a short job: run on the event loop when the write lock is free right now (no hop to the
        thread), else on the thread as `write` does, waiting for the lock. Same transaction, same guarantees.

        Every `CHECKPOINT_EVERY`th quick write then queues a checkpoint of the WAL on the thread, not awaited: the
        caller's answer never waits for the database file's write (see storage/quick.py).

        Raises:
            StoreLocked, StoreCorrupt, StoreError: as `write`.
        """
        quick = self._quick
        if quick is None or quick.thread != threading.get_ident():
            return await self.write(job)
        try:
            result = quick.write(job)
        except sqlite3.Error as error:
            raise translate(error, self.path, busy_timeout_ms=0) from error
        if isinstance(result, Busy):
            return await self.write(job)
        if quick.writes >= CHECKPOINT_EVERY:
            quick.writes = 0
            self.checkpoint_later()
        return result

    async def quick_read(self, job: Job[T]) -> T:
        """`read(job)` for a short job: on the event loop unless a lock is in the way, else on the thread."""
        quick = self._quick
        if quick is None or quick.thread != threading.get_ident():
            return await self.read(job)
        try:
            result = quick.read(job)
        except sqlite3.Error as error:
            raise translate(error, self.path, busy_timeout_ms=0) from error
        if isinstance(result, Busy):
            return await self.read(job)
        return result

    async def checkpoint(self) -> None:
        """Copy what the WAL holds into the database file as far as no reader needs it (PASSIVE: never waits).
        Nothing to do on PostgreSQL (the server checkpoints on its own)."""
        if self._pg is not None:
            return
        await self.run(_checkpoint_job)

    def checkpoint_later(self) -> None:
        """`checkpoint`, queued on the store's thread behind its current work and not awaited: it runs after the
        caller's request, off its await chain. A PASSIVE checkpoint that fails (another one runs) is simply retried
        by the next one; the WAL only grows until then."""
        if self._conn is not None:
            self._conn.submit(_checkpoint_job)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        """Rows of one read statement (autocommit: one statement is its own consistent snapshot)."""
        if self._pg is not None:
            return await self.read(lambda conn: conn.execute(sql, params).fetchall())
        return await self.run(lambda conn: conn.execute(sql, params).fetchall())

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement atomically on its own; returns the number of rows it changed."""
        return await self.run(lambda conn: conn.execute(sql, params).rowcount)

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT atomically on its own; returns the new row's id."""
        row_id = await self.run(lambda conn: conn.execute(f"{sql} RETURNING id", params).fetchone()[0])
        return int(row_id)

    async def integrity_check(self) -> list[str]:
        """`PRAGMA integrity_check`: `["ok"]` for a sound database, otherwise the problems found.

        Raises:
            StoreCorrupt: the database is too damaged to be checked at all.

        On PostgreSQL the server keeps its own files sound: `["ok"]` once a query answers (amcheck is a DBA's tool).
        """
        if self._pg is not None:
            await self.fetchall("SELECT 1")
            return ["ok"]
        return [str(row[0]) for row in await self.fetchall("PRAGMA integrity_check")]


def _checkpoint_job(conn: Connection) -> object:
    return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


async def _configure_when_free(connection: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    """`_configure`, retried until the busy timeout while SQLite answers BUSY at once.

    Processes that open a new database together all switch it to WAL; SQLite then refuses one of them at once,
    without waiting in its busy handler (its deadlock avoidance), and that agent would fail to start. A lock held
    for longer still fails after the busy timeout, as before."""
    deadline = anyio.current_time() + busy_timeout_ms / 1000
    while True:
        try:
            await connection._execute(_configure, connection._conn, busy_timeout_ms)  # type: ignore[no-untyped-call]
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or anyio.current_time() >= deadline:
                raise
        await anyio.sleep(_CONFIGURE_RETRY_S)


#: the pause between two tries of `_configure` (the lock it waits for is another start-up's WAL switch: brief)
_CONFIGURE_RETRY_S = 0.005


def _configure(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout and foreign keys (runs on the connection's thread)."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")


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
