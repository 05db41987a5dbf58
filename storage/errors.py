"""Failures of the shared store, translated once from `sqlite3` errors at the `Store` boundary.

    StoreError(path)                any failure of router.db that is not a bug in the caller
    ├── StoreCorrupt                the file is not a database or a page is damaged; the file is left in place
    ├── StoreLocked                 another process held the write lock past the busy timeout
    └── StoreTooNew                 the database was migrated by a newer provider-router
    ConversationNotFound (LookupError)  no conversation has that id (a malformed id simply misses)

Every message names the fix. The store never deletes, moves or overwrites a user's database on its own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the low byte.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


class StoreError(Exception):
    """router.db could not be used; `path` is the database file."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class StoreCorrupt(StoreError):
    """The database file is damaged or is not a database at all."""


class StoreLocked(StoreError):
    """Another connection kept the database locked for longer than the busy timeout."""


class StoreTooNew(StoreError):
    """The database holds migrations this version does not know: it was written by a newer provider-router."""


class ConversationNotFound(LookupError):
    """No conversation has this id."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}; start a new one by omitting conversation_id")
        self.conversation_id = conversation_id


def translate(error: sqlite3.Error, path: Path, *, busy_timeout_ms: int) -> StoreError:
    """The `StoreError` for a `sqlite3` error, chosen by its result code, never by its message text."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    detail = str(error)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreCorrupt(
            f"router.db at {path} is damaged: {detail}. Fix: move it aside (e.g. `mv '{path}' '{path}.damaged'`, "
            "keeping any -wal/-shm files beside it); a new one will be created on the next start. "
            f"Quotas, budgets and the decision log start afresh; `sqlite3 '{path}.damaged' .recover` may salvage them.",
            path=path,
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreLocked(
            f"router.db at {path} stayed locked by another connection for more than {busy_timeout_ms} ms ({detail}). "
            "Fix: close any `sqlite3` shell or tool holding it open; if only provider-router processes use it, "
            "they are overloaded — retry, or raise the busy timeout.",
            path=path,
        )
    if primary in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
        return StoreError(
            f"router.db at {path} cannot be opened for writing ({detail}). "
            f"Fix: check that the file and its directory {path.parent} exist and belong to you (mode 0600/0700), "
            "that the file is not immutable (Linux: `lsattr` shows `i`, `chattr -i` clears it; macOS: "
            "`chflags nouchg`) and that its file system is not mounted read-only.",
            path=path,
        )
    if primary in (_SQLITE_FULL, _SQLITE_IOERR):
        return StoreError(
            f"router.db at {path} could not be written ({detail}). Fix: free disk space on its file system.",
            path=path,
        )
    return StoreError(f"router.db at {path} failed: {detail}", path=path)


def translate_postgres(error: Exception, url: str, path: Path, *, lock_timeout_ms: int) -> StoreError:
    """The `StoreError` for a psycopg error, chosen by its class (SQLSTATE), never by its message text; the URL's
    password never appears in it."""
    from storage.database_url import redact
    from storage.postgres import is_locked, is_unreachable, scrub

    shown = redact(url)
    detail = scrub(str(error).strip(), url)
    import psycopg

    if isinstance(error, psycopg.Error) and is_locked(error):
        return StoreLocked(
            f"the PostgreSQL database {shown} kept its write lock held by another node for more than "
            f"{lock_timeout_ms} ms ({detail}). Fix: the nodes are overloaded or a session holds a long transaction "
            "open (see pg_stat_activity) — retry, or raise the busy timeout.",
            path=path,
        )
    if isinstance(error, psycopg.Error) and is_unreachable(error):
        return StoreError(
            f"the PostgreSQL database {shown} cannot be used ({detail}). Fix: check that the server is running and "
            "reachable from this machine, and that the user, password and database name in settings.database (or "
            "PROVIDER_ROUTER_DATABASE_URL) are right; the database must exist (`createdb NAME`).",
            path=path,
        )
    return StoreError(f"the PostgreSQL database {shown} failed: {detail}", path=path)
