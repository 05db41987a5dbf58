"""A second connection to router.db, used on the event loop itself for short units of work.

A short transaction costs tens of µs in SQLite, while the hop to aiosqlite's thread and back costs more than that.
So a short job first tries this connection, right on the event loop, with no busy wait at all: `BEGIN IMMEDIATE`
either takes the write lock at once or fails with SQLITE_BUSY, and then the job goes the usual way (the store's
thread, which waits for the lock up to the busy timeout). The loop is therefore never blocked waiting for another
process, only for the job's own statements. The transaction is the same `BEGIN IMMEDIATE` … COMMIT as on the
thread, so quotas and budgets stay exact across processes.

Commits here do not fsync (WAL with `synchronous = NORMAL`, as on the thread), and this connection never
checkpoints on its own (`wal_autocheckpoint = 0`): a checkpoint writes the database file and may fsync, so the
store queues one on its thread every `CHECKPOINT_EVERY` quick writes instead, without awaiting it (a request that
happened to be the 128th never waits for the file's write).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")

#: quick writes between two checkpoints run on the store's thread
CHECKPOINT_EVERY = 128

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


class Busy:
    """The database was locked by another connection: the job did not run (nothing of it was kept)."""


BUSY: Final = Busy()


def is_busy(error: sqlite3.Error) -> bool:
    """Whether `error` says another connection holds a lock (by result code, never by message text)."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


class QuickConnection:
    """The on-loop connection: `write` and `read` run a job now or answer `BUSY` without waiting."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        #: quick writes committed since the last checkpoint
        self.writes = 0
        #: the thread (the event loop's) that opened it: a caller on any other thread takes the usual way
        self.thread = threading.get_ident()

    @classmethod
    def open(cls, path: Path) -> QuickConnection:
        """Connect without a busy wait (the file is already created, migrated and in WAL mode)."""
        conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            conn.close()
            raise
        return cls(conn)

    def write(self, job: Callable[[sqlite3.Connection], T]) -> T | Busy:
        """`job` in one `BEGIN IMMEDIATE` transaction, or `BUSY` when the write lock is not free right now."""
        result = self._run("BEGIN IMMEDIATE", job)
        if not isinstance(result, Busy):
            self.writes += 1
        return result

    def read(self, job: Callable[[sqlite3.Connection], T]) -> T | Busy:
        """`job` in one deferred transaction (one snapshot), or `BUSY` when a lock kept it from reading now."""
        return self._run("BEGIN", job)

    def _run(self, begin: str, job: Callable[[sqlite3.Connection], T]) -> T | Busy:
        conn = self._conn
        try:
            conn.execute(begin)
            result = job(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            # a failed statement or COMMIT leaves the transaction open: roll it back, so nothing of it is kept
            self._roll_back()
            if is_busy(error):
                return BUSY
            raise
        except BaseException:
            self._roll_back()
            raise
        return result

    def _roll_back(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
