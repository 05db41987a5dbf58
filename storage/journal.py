"""`Journal`: units of work kept beside router.db while another process holds its write lock.

A provider's answer is billed whether or not router.db takes the request's bookkeeping in time, so a unit of work
that met a lock (its settlement, the decision, the turn) must neither hold the answer back nor be lost. It is
appended to `router.db.pending` (one JSON line per unit with its id, fsynced) and applied as soon as the lock frees
(`drain`: on the next request's bookkeeping of any process, at start, or by a server's retry loop).

Exactly once: a unit is applied in the same transaction that records its id in `journal_applied` (m007), and a
unit whose id is already there is skipped. The file is emptied only after that transaction committed, under an
exclusive lock on the file that appends take too, so an append racing a drain is never lost and a crash between
the commit and the emptying only replays units that are then skipped. A line that cannot be read or applied is
moved to `router.db.pending.rejected` (kept for the user, never deleted) rather than blocking the others.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from providers.values import read_only_hashable
from storage.connection import Connection, integrity_errors
from storage.db import Job, Store
from storage.windows import to_ms

log = logging.getLogger(__name__)

#: turns a unit's JSON back into the job that applies it; raises ValueError (or a subclass) for a unit it cannot read
Decode = Callable[[Mapping[str, Any]], Job[object]]


@read_only_hashable
class Entry:
    """One line of the journal: a unit's id and its JSON (None when the line could not be read)."""

    id: str
    unit: Mapping[str, Any] | None
    line: str


if sys.platform == "win32":
    import msvcrt

    @contextmanager
    def _locked(fd: int, *, wait: bool) -> Iterator[bool]:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    @contextmanager
    def _locked(fd: int, *, wait: bool) -> Iterator[bool]:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class Journal:
    """The pending units of one database (the file `<database>.pending`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fspath = os.fspath(path)
        self.rejected_path = path.with_name(path.name + ".rejected")

    @classmethod
    def beside(cls, db_path: Path) -> Journal:
        return cls(db_path.with_name(db_path.name + ".pending"))

    def waiting(self) -> bool:
        """Whether any unit may be waiting (one `stat`: cheap enough to ask before every drain)."""
        try:
            return os.stat(self._fspath).st_size > 0
        except OSError:
            return False

    async def append(self, unit: Mapping[str, Any]) -> str:
        """Keep `unit` on disk (written and fsynced before this returns); returns its id."""
        unit_id = uuid.uuid4().hex
        line = json.dumps({"id": unit_id, "unit": unit}, separators=(",", ":")) + "\n"
        await anyio.to_thread.run_sync(self._append, line.encode())
        return unit_id

    def _append(self, data: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            with _locked(fd, wait=True):
                os.write(fd, data)
                os.fsync(fd)
        finally:
            os.close(fd)
        if created and sys.platform != "win32":
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    async def entries(self) -> list[Entry]:
        """The units waiting, in the order they were kept."""
        try:
            text = await anyio.Path(self.path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return _parse(text)

    async def drain(self, store: Store, decode: Decode, now: datetime, *, busy_timeout_ms: int | None = None) -> int:
        """Apply every waiting unit in one transaction and empty the journal; returns how many were applied now.

        Returns 0 at once when another process is draining (it holds the file's lock).

        Raises:
            StoreLocked: the database is still locked (the units stay in the journal for the next drain).
            StoreError: the database failed otherwise (likewise).
        """
        if not self.waiting():
            return 0
        fd = await anyio.to_thread.run_sync(self._open_existing)
        if fd is None:
            return 0
        try:
            with _locked(fd, wait=False) as mine:
                if not mine:
                    return 0
                return await self._drain_locked(fd, store, decode, to_ms(now), busy_timeout_ms)
        finally:
            os.close(fd)

    def _open_existing(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None

    async def _drain_locked(
        self, fd: int, store: Store, decode: Decode, now_ms: int, busy_timeout_ms: int | None
    ) -> int:
        entries = _parse(await anyio.to_thread.run_sync(_read_all, fd))
        jobs: list[tuple[Entry, Job[object]]] = []
        rejected: list[Entry] = []
        for entry in entries:
            try:
                if entry.unit is None:
                    raise ValueError("the line is not a journaled unit")
                jobs.append((entry, decode(entry.unit)))
            except ValueError as error:
                log.error("router.db.pending: unit %s cannot be read (%s); kept in %s", entry.id, error,
                          self.rejected_path)  # fmt: skip
                rejected.append(entry)
        applied, failed = await store.write(_apply_all(jobs, now_ms), busy_timeout_ms=busy_timeout_ms)
        rejected.extend(failed)
        await anyio.to_thread.run_sync(self._finish, fd, rejected)
        return applied

    def _finish(self, fd: int, rejected: list[Entry]) -> None:
        """Keep the rejected lines aside, then empty the journal (its units are all in the database now)."""
        if rejected:
            keep = os.open(self.rejected_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(keep, "".join(entry.line for entry in rejected).encode())
                os.fsync(keep)
            finally:
                os.close(keep)
        os.ftruncate(fd, 0)
        os.fsync(fd)


def _read_all(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _parse(text: str) -> list[Entry]:
    entries: list[Entry] = []
    for line in text.splitlines(keepends=True):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            entries.append(Entry(id=str(data["id"]), unit=dict(data["unit"]), line=line))
        except (ValueError, KeyError, TypeError):
            # a line torn by a crash mid-write: keep it aside, it never reached a caller as settled
            entries.append(Entry(id="", unit=None, line=line if line.endswith("\n") else line + "\n"))
    return entries


def _apply_all(jobs: list[tuple[Entry, Job[object]]], now_ms: int) -> Job[tuple[int, list[Entry]]]:
    """Each unit not applied before, with its id recorded in the same transaction; a unit the database refuses
    (a constraint) is rolled back alone and returned to be kept aside."""

    def job(conn: Connection) -> tuple[int, list[Entry]]:
        applied, failed = 0, []
        for entry, unit_job in jobs:
            if conn.execute("SELECT 1 FROM journal_applied WHERE id = ?", (entry.id,)).fetchone():
                continue
            conn.execute("SAVEPOINT journal_unit")
            try:
                unit_job(conn)
            except integrity_errors() as error:
                conn.execute("ROLLBACK TO journal_unit")
                log.error("router.db.pending: unit %s was refused by the database (%s)", entry.id, error)
                failed.append(entry)
                continue
            finally:
                conn.execute("RELEASE journal_unit")
            conn.execute("INSERT INTO journal_applied (id, applied_at) VALUES (?, ?)", (entry.id, now_ms))
            applied += 1
        return applied, failed

    return job


def purge_applied_job(older_than_ms: int) -> Job[int]:
    """Forget the ids of units applied before `older_than_ms` (the journal was emptied long since)."""
    return lambda conn: conn.execute("DELETE FROM journal_applied WHERE applied_at < ?", (older_than_ms,)).rowcount
