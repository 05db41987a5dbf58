"""Fixtures for the store: a fresh database per test and accounts built from plain values."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from providers.models import Account, BudgetSpec, CredentialRef, QuotaSpec
from storage.database_url import Database
from storage.db import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def make_account(account_id: str = "acct-1", *, budget: BudgetSpec | None = None, **quota: Any) -> Account:
    return Account(
        id=account_id,
        provider="google",
        kind="gemini",
        base_url="http://127.0.0.1:1",
        credential=CredentialRef(source="none"),
        quota=QuotaSpec(**quota),
        budget=budget or BudgetSpec(),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store on each backend: the contract tests that use it run on SQLite and on a real PostgreSQL."""
    database = None
    if request.param == "postgresql":
        template = request.getfixturevalue("postgres_template")
        database = Database("postgresql", url=request.getfixturevalue("postgres").create_database(template))
    async with await Store.open(tmp_path / "router.db", database=database) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Awaitable[Store]]:
    """Opens one store afresh each call (a restart, another process, a newer version) on one database, of each
    backend: for the tests of migrations that move data and of what a restart reads."""
    database = None
    if request.param == "postgresql":
        database = Database("postgresql", url=request.getfixturevalue("postgres").create_database())

    async def open_(**options: Any) -> Store:
        return await Store.open(tmp_path / "router.db", database=database, **options)

    return open_
