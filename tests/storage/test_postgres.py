"""The PostgreSQL backend's own behaviour (the shared contract runs on both backends through the `store` fixture)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import pytest

from storage.connection import Connection
from storage.conversations import Conversations
from storage.database_url import BadDatabaseUrl, Database, parse_database_url
from storage.db import Store
from storage.errors import StoreError, StoreLocked, StoreTooNew
from storage.migrations import MIGRATIONS, MIGRATIONS_NAMES
from storage.migrations_pg import POSTGRES_FORMS
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-Pa55"


def test_every_migration_has_a_postgresql_form() -> None:
    assert list(POSTGRES_FORMS) == list(MIGRATIONS_NAMES)


def test_a_sqlite_url_names_the_file_and_nothing_names_the_default(tmp_path: Path) -> None:
    default = tmp_path / "router.db"
    assert parse_database_url("", default_path=default) == Database("sqlite", path=default)
    assert parse_database_url("sqlite:///srv/router/team.db", default_path=default).path == Path("/srv/router/team.db")
    parsed = parse_database_url(f"postgresql://router:{SECRET}@db.internal:5432/router", default_path=default)
    assert parsed.kind == "postgresql" and SECRET not in parsed.shown and "router:***@db.internal:5432" in parsed.shown


@pytest.mark.parametrize("url", ["mysql://u:{s}@h/db", "postgresql://u:{s}@/db", "sqlite://", "router.db"])
def test_a_bad_database_url_is_refused_naming_the_fix_without_its_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(BadDatabaseUrl) as raised:
        parse_database_url(url.format(s=SECRET), default_path=tmp_path / "router.db")
    assert "Fix:" in str(raised.value) and "postgresql://" in str(raised.value)
    assert SECRET not in str(raised.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_a_store_error_naming_the_fix_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://router:{SECRET}@127.0.0.1:{_closed_port()}/router"
    with pytest.raises(StoreError) as raised:
        await Store.open(tmp_path / "router.db", database=Database("postgresql", url=url))
    message = str(raised.value)
    assert "Fix: check that the server is running" in message and SECRET not in message
    assert "router:***@127.0.0.1" in message


async def test_a_missing_database_is_a_store_error_naming_createdb_without_the_password(
    postgres: Any, tmp_path: Path
) -> None:
    url = postgres.url("nope").replace("postgres@", f"postgres:{SECRET}@")
    with pytest.raises(StoreError) as raised:
        await Store.open(tmp_path / "router.db", database=Database("postgresql", url=url))
    assert "createdb" in str(raised.value) and SECRET not in str(raised.value)


async def test_two_nodes_migrating_one_fresh_database_at_once_apply_every_step_once(
    postgres: Any, tmp_path: Path
) -> None:
    database = Database("postgresql", url=postgres.create_database())
    stores: list[Store] = []

    async def open_one(i: int) -> None:
        stores.append(await Store.open(tmp_path / f"node{i}" / "router.db", database=database))

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(open_one, i)
    try:
        rows = await stores[0].fetchall("SELECT name FROM _migrations ORDER BY name")
        assert [row[0] for row in rows] == [m.__name__ for m in MIGRATIONS]
        assert await stores[1].integrity_check() == ["ok"]
    finally:
        for store in stores:
            await store.close()


async def test_a_writer_waits_for_another_nodes_write_lock_and_gives_up_as_store_locked(
    postgres: Any, tmp_path: Path
) -> None:
    database = Database("postgresql", url=postgres.create_database())
    async with (
        await Store.open(tmp_path / "a" / "router.db", database=database) as a,
        await Store.open(tmp_path / "b" / "router.db", database=database, busy_timeout_ms=200) as b,
    ):
        holding, release = anyio.Event(), anyio.Event()
        portal_token = anyio.lowlevel.current_token()

        def hold(conn: Connection) -> None:
            conn.execute("INSERT INTO pool_cursors (pool, last_account, turns) VALUES ('p', 'a', 1)")
            anyio.from_thread.run_sync(holding.set, token=portal_token)
            anyio.from_thread.run(release.wait, token=portal_token)

        async with anyio.create_task_group() as tg:
            tg.start_soon(a.write, hold)
            await holding.wait()
            with pytest.raises(StoreLocked, match="write lock"):
                await b.write(lambda conn: conn.execute("DELETE FROM pool_cursors"))
            release.set()
        assert await b.fetchall("SELECT pool FROM pool_cursors") == [("p",)]


async def test_a_database_migrated_by_a_newer_version_is_refused(postgres: Any, tmp_path: Path) -> None:
    database = Database("postgresql", url=postgres.create_database())
    async with await Store.open(tmp_path / "router.db", database=database) as store:
        await store.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 'later')")
    with pytest.raises(StoreTooNew, match="upgrade provider-router"):
        await Store.open(tmp_path / "router.db", database=database)


async def test_a_conversation_is_read_while_another_node_holds_the_write_lock(postgres: Any, tmp_path: Path) -> None:
    database = Database("postgresql", url=postgres.create_database())
    async with (
        await Store.open(tmp_path / "a" / "router.db", database=database) as a,
        await Store.open(tmp_path / "b" / "router.db", database=database, busy_timeout_ms=200) as b,
    ):
        created = await Conversations(b).create(NOW)
        holding, release = anyio.Event(), anyio.Event()
        portal_token = anyio.lowlevel.current_token()

        def hold(conn: Connection) -> None:
            anyio.from_thread.run_sync(holding.set, token=portal_token)
            anyio.from_thread.run(release.wait, token=portal_token)

        async with anyio.create_task_group() as tg:
            tg.start_soon(a.write, hold)
            await holding.wait()
            try:  # a read that waited for the lock would give up as StoreLocked
                read = await Conversations(b).get(created.id)
            finally:
                release.set()
        assert read is not None and read.id == created.id
