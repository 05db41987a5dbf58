"""The store on PostgreSQL: a psycopg 3 connection pool, and the jobs' connection over it.

Jobs are plain synchronous functions of a connection (storage/db.py), so this backend runs each one on a worker
thread (`anyio.to_thread.run_sync`) with a connection of psycopg's synchronous `ConnectionPool`: one hop per unit of
work, as on SQLite, and the same job code for both backends. (psycopg's async API would need every job rewritten as
a coroutine; the statements of a unit of work are few and short, and the pool lets units run side by side.)

Exactness across nodes: every writing transaction starts with `pg_advisory_xact_lock(WRITE_LOCK)`, so writers are
serialised cluster-wide exactly as SQLite's `BEGIN IMMEDIATE` serialises them across processes: a reservation's
read-check-insert can never interleave with another node's. Reads run in REPEATABLE READ (one snapshot per job),
without the lock. The lock is a transaction lock: a node killed mid-transaction loses its connection, PostgreSQL
rolls the transaction back and releases the lock; its committed pending reservations expire by time as on SQLite.

Statements are sent with client-side binding (`ClientCursor`), which accepts the untyped `? IS NULL` parameters of
the SQLite-shaped statements; their text is translated once per statement (storage/pg_sql.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import anyio
import psycopg
from psycopg import ClientCursor, errors, pq
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from storage.database_url import redact
from storage.pg_sql import to_postgres

T = TypeVar("T")
log = logging.getLogger(__name__)

#: the advisory lock every writing transaction takes first (any constant; "prou" in ASCII)
WRITE_LOCK: Final = 0x70726F75
POOL_SIZE: Final = 8
CONNECT_TIMEOUT_S: Final = 10

Mode = Literal["read", "write"]


def scrub(text: str, url: str) -> str:
    """`text` (an error message) with the URL's password removed wherever it appears."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return text.replace(password, "***") if password else text


class _NumericLoader(Loader):
    """NUMERIC (what SUM of BIGINT returns) as SQLite would give it: an int when whole, else a float."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        return float(text) if any(ch in text for ch in ".eEN") else int(text)


Buffer = bytes | bytearray | memoryview


def _plain(value: Any) -> Any:
    # SQLite stores booleans as 0/1 and its statements compare them so (`= 1`)
    return int(value) if isinstance(value, bool) else value


def _params(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {key: _plain(value) for key, value in parameters.items()}
    return tuple(_plain(value) for value in parameters)


class _Rows:
    """The rows of several statements (the branches of a translated `UNION ALL`) as one cursor."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows
        self.rowcount = len(rows)
        self.lastrowid: int | None = None
        self.description: Any = None

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgCursor:
    """A psycopg cursor as the jobs use sqlite3's (no `lastrowid` on PostgreSQL: the statements say `RETURNING`)."""

    lastrowid: int | None = None

    def __init__(self, cursor: ClientCursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """What a job sees on PostgreSQL (storage.connection.Connection)."""

    dialect: Final = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor | _Rows:
        statements = to_postgres(sql)
        params = _params(parameters)
        if len(statements) == 1:
            cursor = ClientCursor(self._conn)
            cursor.execute(statements[0], params)
            return PgCursor(cursor)
        rows: list[Any] = []
        for statement in statements:
            cursor = ClientCursor(self._conn)
            cursor.execute(statement, params)
            rows.extend(cursor.fetchall())
        return _Rows(rows)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        (statement,) = to_postgres(sql)
        cursor = ClientCursor(self._conn)
        cursor.executemany(statement, [_params(p) for p in parameters])
        return PgCursor(cursor)

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumericLoader)
    conn.execute("SET TIME ZONE 'UTC'")


class PgBackend:
    """The pool and the transactions of the jobs that run on it."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]], url: str, lock_timeout_ms: int) -> None:
        self._pool = pool
        self.url = url
        self.shown = redact(url)
        self.lock_timeout_ms = lock_timeout_ms

    @classmethod
    async def open(cls, url: str, lock_timeout_ms: int) -> PgBackend:
        """Connect (a first connection, to report a precise error), then open the pool.

        Raises:
            psycopg.Error: the server cannot be reached or refused the connection.
        """

        def connect() -> ConnectionPool[psycopg.Connection[Any]]:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
            pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                configure=_configure,
                open=False,
                name="provider-router",
            )
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            except PoolTimeout as error:
                pool.close()
                raise psycopg.OperationalError(str(error)) from error
            return pool

        pool = await anyio.to_thread.run_sync(connect)
        return cls(pool, url, lock_timeout_ms)

    async def run(self, job: Callable[[PgConnection], T], mode: Mode, lock_timeout_ms: int | None = None) -> T:
        """Run `job` in one transaction: `write` serialised with every writer of every node, `read` on a snapshot."""
        wait_ms = self.lock_timeout_ms if lock_timeout_ms is None else lock_timeout_ms
        return await anyio.to_thread.run_sync(self._transaction, job, mode, wait_ms)

    def _transaction(self, job: Callable[[PgConnection], T], mode: Mode, wait_ms: int) -> T:
        with self._pool.connection() as raw:
            if mode == "write":  # one round trip (the simple protocol takes several statements at once)
                wait = max(int(wait_ms), 1)
                raw.execute(f"BEGIN; SET LOCAL lock_timeout = {wait}; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            else:
                raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try:
                result = job(PgConnection(raw))
            except BaseException:
                if raw.info.transaction_status != pq.TransactionStatus.IDLE:
                    raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
            return result

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self._pool.close)


def is_locked(error: psycopg.Error) -> bool:
    """Whether `error` says the write lock was not had in time (by SQLSTATE, never by message text)."""
    return isinstance(error, errors.LockNotAvailable | errors.QueryCanceled)


def is_unreachable(error: psycopg.Error) -> bool:
    """Whether `error` is a failure to reach or log in to the server (rather than of a statement)."""
    return isinstance(error, psycopg.OperationalError) and not isinstance(error, errors.LockNotAvailable)
