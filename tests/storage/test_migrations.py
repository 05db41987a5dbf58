"""Migrations: a blank database gets the whole schema; an old one upgrades in place; a newer one is refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from providers.types import Usage
from storage.db import Store
from storage.errors import StoreTooNew
from storage.ledger import Ledger, Reservation, settle_job
from storage.migrations import MIGRATIONS, migrate
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

TABLES = {
    "_migrations",
    "reservations",
    "usage_counters",
    "account_state",
    "retired_models",
    "pool_cursors",
    "conversations",
    "conversation_messages",
    "pins",
    "decisions",
    "attempts",
    "switches",
    "model_listings",
    "journal_applied",
    "message_bodies",
    "response_cache",
    "response_cache_totals",
    "latency_stats",
    "output_stats",
    "team_members",
    "member_counters",
    "rollup_attempts",
    "rollup_decisions",
    "rollup_days",
}


def schema(path: Path) -> dict[str, set[str]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
    found: dict[str, set[str]] = {}
    for kind, name in rows:
        found.setdefault(kind, set()).add(name)
    return found


def columns(path: Path, table: str) -> list[str]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


async def applied(store: Store) -> list[str]:
    """The migrations the database records, in the order they were applied."""
    return [str(row[0]) for row in await store.fetchall("SELECT name FROM _migrations ORDER BY rowid")]


async def test_a_blank_database_is_migrated_to_the_whole_schema(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path) as store:
        assert await applied(store) == [m.__name__ for m in MIGRATIONS]
        assert list(await store.fetchall("PRAGMA journal_mode")) == [("wal",)]
        assert list(await store.fetchall("PRAGMA foreign_keys")) == [(1,)]
        assert list(await store.fetchall("PRAGMA busy_timeout")) == [(5000,)]
        assert list(await store.fetchall("PRAGMA synchronous")) == [(1,)]  # NORMAL
    found = schema(path)
    assert found["table"] == TABLES
    assert found["trigger"] == {"reservations_settled", "conversation_messages_deleted", "reservations_settled_member"}
    assert {"reservations_by_account_time", "reservations_pending", "attempts_by_time"} <= found["index"]
    assert columns(path, "attempts") == [
        "id", "decision_id", "created_at", "provider", "model", "account", "outcome", "error_class", "latency_ms",
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_nusd",
        "usage_estimated", "ttft_ms",
    ]  # fmt: skip
    assert {"candidates", "exclusions", "scores", "reason", "confidence", "prompt"} <= set(columns(path, "decisions"))


async def test_an_old_database_upgrades_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path, migrations=MIGRATIONS[:1]) as old:
        assert await applied(old) == ["m001_ledger_and_accounts"]
        held = await old.write(
            Ledger(old).reserve_job(make_account(), "m", estimated_tokens=5, worst_case_cost_usd=0.1, now=NOW)
        )
        assert isinstance(held, Reservation)
        await old.run(settle_job(held, usage=Usage(input_tokens=4), cost_usd=0.05, now=NOW))
    assert "conversations" not in schema(path)["table"]
    async with await Store.open(path) as store:
        assert await applied(store) == [m.__name__ for m in MIGRATIONS]
        usage = (await Ledger(store).snapshot([make_account()], NOW)).accounts["acct-1"].usage
        assert (usage.day.requests, usage.day.tokens, usage.day.cost_usd) == (1, 4, 0.05)
    assert schema(path)["table"] == TABLES


async def test_opening_a_migrated_database_applies_nothing(store: Store) -> None:
    assert await migrate(store) == []


async def test_a_database_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "router.db"
    async with await Store.open(path):
        pass
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 'later')")
    with pytest.raises(StoreTooNew, match="upgrade provider-router"):
        await Store.open(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        assert conn.execute("SELECT COUNT(*) FROM _migrations").fetchone() == (len(MIGRATIONS) + 1,)


def test_migration_names_are_unique_and_numbered_in_order() -> None:
    names = [m.__name__ for m in MIGRATIONS]
    assert names == sorted(set(names))
    numbers = [int(name[1:4]) for name in names]
    assert all(name[0] == "m" and name[4] == "_" for name in names)
    assert numbers == sorted(set(numbers)) and numbers == list(range(1, len(numbers) + 1))


async def test_m013_adds_a_nullable_ttft_column_unless_an_earlier_step_added_it(tmp_path: Path) -> None:
    from storage.schema import m013_attempt_ttft

    conn = sqlite3.connect(tmp_path / "plain.db")
    conn.execute("CREATE TABLE attempts (id INTEGER PRIMARY KEY, latency_ms REAL NOT NULL)")
    m013_attempt_ttft(conn)
    m013_attempt_ttft(conn)  # already there: nothing to do
    columns = {row[1]: row for row in conn.execute("PRAGMA table_info(attempts)")}
    assert columns["ttft_ms"][3] == 0  # nullable
    conn.close()
