"""Fixtures for the store: a fresh database per test and accounts built from plain values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from providers.models import Account, BudgetSpec, CredentialRef, QuotaSpec
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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "router.db") as opened:
        yield opened
