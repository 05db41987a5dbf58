"""Use it or lose it at call time: when decide() puts an account first for its quota outlook, the router calls it
there and then instead of the round-robin cursor's account, and the decision says why."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from storage.windows import day_window
from tests.routing.e2e import ask, routed

pytestmark = pytest.mark.anyio


async def test_the_account_with_the_most_left_before_the_same_reset_serves_instead_of_the_cursors(
    tmp_path: Path,
) -> None:
    async with routed(tmp_path) as w:
        account = w.app.config.providers["google"].accounts[0]
        model = next(iter(w.app.config.providers["google"].models))
        day = day_window(w.clock(), account.quota.timezone).key
        for key in (model, ""):  # the account's own counters and its model's: 15 of 20 used today
            await w.app.store.execute(
                "INSERT INTO usage_counters (account, model, period, requests, tokens, cost_nusd) "
                "VALUES (?, ?, ?, 15, 0, 0)",
                (account.id, key, day),
            )
        with anyio.fail_after(10):
            preview = await w.app.router.preview(ask("Summarize this line", task_type="simple"))
            result = await w.app.router.route(ask("Summarize this line", task_type="simple"))
    assert (result.provider, result.account) == ("google", "google-2")
    assert w.sim.stats("google-1").requests == 0
    note = preview.candidates[0]["pool_note"]
    assert note.startswith("google-2: 20 of 20 requests left") and note.endswith("spent before google-1")
