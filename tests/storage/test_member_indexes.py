"""The member indexes hold team members' rows only, and every member query still searches them."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import Store
from storage.team import _SQL_MEMBER_SPEND

pytestmark = pytest.mark.anyio

_MEMBER_SPEND = {"member": "ann", "day": "2026-11-28", "month": "2026-11", "now": 1}


async def _plan(store: Store, sql: str, params: object) -> str:
    rows = await store.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)  # type: ignore[arg-type]
    return "\n".join(str(row[3]) for row in rows)


async def test_rows_without_a_member_are_left_out_of_both_member_indexes(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "router.db") as store:
        rows = await store.fetchall(
            "SELECT name, sql FROM sqlite_schema WHERE name IN ('reservations_member_pending', 'decisions_by_member')"
        )
    assert len(rows) == 2
    assert all("member IS NOT NULL" in sql for _, sql in rows)


async def test_a_members_pending_spend_is_still_read_through_the_member_index(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "router.db") as store:
        plan = await _plan(store, _SQL_MEMBER_SPEND, _MEMBER_SPEND)
    assert plan.count("USING INDEX reservations_member_pending") == 2


async def test_a_members_decisions_are_still_found_through_the_member_index(tmp_path: Path) -> None:
    sql = "SELECT id FROM decisions WHERE member = ?"
    async with await Store.open(tmp_path / "router.db") as store:
        plan = await _plan(store, sql, ("ann",))
    assert "decisions_by_member" in plan
