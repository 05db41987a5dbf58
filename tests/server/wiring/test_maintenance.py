"""Housekeeping rolls complete days up before retention prunes their raw rows, in bounded batches."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from providers.attempts import AttemptRecord
from server.config import RouterSettings
from server.wiring.maintenance import maintain
from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord
from storage.rollups import Rollups
from tests.clock import FIXED_NOW

pytestmark = pytest.mark.anyio


async def test_housekeeping_rolls_days_up_before_it_prunes_them_and_keeps_what_is_newer(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "router.db") as store:
        log = DecisionLog(store)
        for days_ago in range(40):
            at = FIXED_NOW - timedelta(days=days_ago)
            served = AttemptRecord(provider="openai", model="m", account="a", outcome="success", latency_ms=80.0,
                                   started_at=at, cost_usd=0.01)  # fmt: skip
            await store.write(log.record_job(DecisionRecord(task_summary="t", provider="openai"), at, [served]))
        settings = RouterSettings(retention_days=10)
        await maintain(store, log, settings, FIXED_NOW, batch_size=4)
        kept = await store.fetchall("SELECT COUNT(*), MIN(created_at) FROM decisions")
        since = FIXED_NOW - timedelta(days=45)
        cells = await Rollups(store).cells(since, FIXED_NOW + timedelta(seconds=1), settings.timezone)
        rolled = await store.fetchall("SELECT COUNT(*) FROM rollup_days")
    assert kept[0][0] == 11  # the last ten days and today
    assert rolled == [(39,)]  # every complete day, today not yet
    assert sum(c.attempts for c in cells.attempts) == 40  # the pruned days read back from their roll-ups
    assert sum(d.decisions for d in cells.decisions) == 40
