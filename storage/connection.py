"""What a job sees of the database: a DB-API-like connection, the same for SQLite and PostgreSQL.

A *job* (storage/db.py) is a plain function of a `Connection` that runs statements in `?` / `:name` placeholders
(SQLite's): on SQLite it is the `sqlite3.Connection` itself (no wrapper on the hot path); on PostgreSQL it is
storage/postgres.py's wrapper, which translates the placeholders and the few dialect differences. SQL written here
is portable (upserts qualify the existing row's columns with the table name, booleans are compared with `= 1`,
new ids come back through `RETURNING id`); where one statement cannot serve both, a job asks `is_postgres(conn)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

#: a statement's parameters: positional for `?`, a mapping for `:name`
Params = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The connection a job runs its statements on, inside the transaction the store opened for it."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...


def is_postgres(conn: Connection) -> bool:
    """Whether `conn` talks to PostgreSQL (for the rare statement that has no portable form)."""
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def integrity_errors() -> tuple[type[Exception], ...]:
    """The exception types of a violated constraint on either backend (for a job that recovers from one)."""
    import sqlite3

    import psycopg

    return (sqlite3.IntegrityError, psycopg.IntegrityError)


__all__ = ["Connection", "Cursor", "Params", "integrity_errors", "is_postgres"]
