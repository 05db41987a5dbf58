"""Applying the schema's ordered, named steps (storage/schema.py), each recorded in `_migrations` (llm's way).

Each step runs inside the same write transaction as its record, so two processes starting at once cannot both
apply it, and a crash mid-migration leaves the database at the previous step; on PostgreSQL a step runs in its
form from storage/migrations_pg.py. Statements are run one by one (`executescript` would commit half way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from storage.connection import Connection, is_postgres
from storage.errors import StoreTooNew
from storage.migrations_pg import POSTGRES_FORMS, TRANSLATED, translated
from storage.schema import MIGRATIONS, Migration

__all__ = ["MIGRATIONS", "MIGRATIONS_NAMES", "Migratable", "Migration", "migrate", "postgres_form"]

T = TypeVar("T")


class Migratable(Protocol):
    """What migrating needs of the store (storage/db.py's `Store`): declared here, so neither imports the other."""

    path: Path
    location: str

    async def read(self, job: Callable[[Connection], T]) -> T: ...

    async def write(self, job: Callable[[Connection], T], *, busy_timeout_ms: int | None = None) -> T: ...


_CREATE_MIGRATIONS = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"


async def migrate(store: Migratable, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations this database lacks, in order; returns the names applied now.

    Raises:
        StoreTooNew: the database records a migration this code does not know.
    """
    names = [migration.__name__ for migration in migrations]
    applied = await store.read(_applied)
    _refuse_unknown(store, applied, names)
    if all(name in applied for name in names):
        return []

    def apply(conn: Connection) -> list[str]:
        conn.execute(_CREATE_MIGRATIONS)
        # Re-read under the write lock: another process may have migrated since.
        applied = _applied(conn)
        _refuse_unknown(store, applied, names)
        postgres = is_postgres(conn)
        done: list[str] = []
        for migration in migrations:
            if migration.__name__ not in applied:
                step = postgres_form(migration) if postgres else migration
                step(conn)
                conn.execute(_RECORD_POSTGRES if postgres else _RECORD, (migration.__name__,))
                done.append(migration.__name__)
        return done

    return await store.write(apply)


_RECORD = "INSERT INTO _migrations (name, applied_at) VALUES (?, datetime('now'))"
_RECORD_POSTGRES = (
    "INSERT INTO _migrations (name, applied_at) VALUES (?, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))"
)
_EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
_EXISTS_POSTGRES = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = '_migrations'"


def postgres_form(migration: Migration) -> Migration:
    """The PostgreSQL form of `migration` (storage/migrations_pg.py keeps one per name).

    Raises:
        KeyError: the migration has no PostgreSQL form (a test keeps every one of `MIGRATIONS` covered).
    """
    form = POSTGRES_FORMS[migration.__name__]
    return translated(migration) if form == TRANSLATED else form


def _applied(conn: Connection) -> set[str]:
    exists = conn.execute(_EXISTS_POSTGRES if is_postgres(conn) else _EXISTS).fetchall()
    return {str(row[0]) for row in conn.execute("SELECT name FROM _migrations")} if exists else set()


def _refuse_unknown(store: Migratable, applied: set[str], known: list[str]) -> None:
    unknown = sorted(applied - set(MIGRATIONS_NAMES) - set(known))
    if unknown:
        raise StoreTooNew(
            f"{store.location} was migrated by a newer provider-router (unknown steps: {', '.join(unknown)}). "
            "Fix: upgrade provider-router, or point PROVIDER_ROUTER_HOME at another directory.",
            path=store.path,
        )


MIGRATIONS_NAMES: tuple[str, ...] = tuple(migration.__name__ for migration in MIGRATIONS)
