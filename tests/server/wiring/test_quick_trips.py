"""A routed request does its storage work on the event loop while router.db's lock is free: no trip to the store's
thread (each costs more than the SQL it runs), and the rows are all there."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from providers.types import Message
from routing.router import RouteRequest
from tests.harness import seed_app

pytestmark = pytest.mark.anyio


async def test_a_request_and_a_failover_make_no_trip_to_the_stores_thread_and_keep_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with seed_app(tmp_path) as (app, sim):
        ask = RouteRequest(messages=(Message(role="user", content="Fix this Python function"),), task_type="coding")
        await app.router.route(ask)  # the first request loads the tokenizer and settles start-up work
        assert app.store._conn is not None
        connection = app.store._conn._aio
        execute = connection._execute
        hops: list[object] = []

        async def counted(fn: object, *args: object) -> object:
            hops.append(fn)
            return await execute(fn, *args)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(connection, "_execute", counted)
        sim.script("openai", ["rate_limited"])
        with anyio.fail_after(10):
            failed_over = await app.router.route(ask)
            served = await app.router.route(ask)
        assert hops == []
        assert [a.outcome for a in failed_over.attempts] == ["error", "success"]
        assert served.decision_id is not None and failed_over.decision_id is not None
        rows = await app.store.fetchall("SELECT COUNT(*) FROM attempts WHERE decision_id IN (?, ?)",
                                        (failed_over.decision_id, served.decision_id))  # fmt: skip
        assert rows[0][0] == 3
        pending = await app.store.fetchall("SELECT COUNT(*) FROM reservations WHERE state = 'pending'")
        assert pending[0][0] == 0
