"""A damaged, locked or unwritable router.db never keeps the App from explaining itself: start-up housekeeping
that meets another process's lock is deferred, a damaged or read-only file is reported with its fix and left
exactly as it was."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from providers.types import Message
from server.cli.doctor import diagnose
from server.config.paths import Paths
from server.wiring.app import AppUnavailable, open_app
from storage import Store, Turn
from storage.conversations import save_turn_job
from storage.db import DEFAULT_BUSY_TIMEOUT_MS
from storage.migrations import MIGRATIONS
from tests.clock import FixedClock
from tests.damaged_db import damage_table, digest, held_exclusive, unwritable
from tests.harness import ENV, write_config
from tests.server.mcp_support import mcp_session

pytestmark = pytest.mark.anyio


async def _home_with_a_log(home: Path) -> Paths:
    paths = Paths.in_home(home)
    async with open_app(paths, ENV, clock=FixedClock()) as app:
        for n in range(50):
            await app.store.execute(
                "INSERT INTO decisions (created_at, task_summary, candidates, exclusions, scores) "
                "VALUES (0, ?, '[]', '[]', '{}')",
                (f"task {n} " * 100,),
            )
    return paths


async def test_a_damaged_database_is_reported_with_how_to_move_it_aside_and_left_untouched(tmp_path: Path) -> None:
    paths = await _home_with_a_log(tmp_path)
    damage_table(paths.db_file, "decisions")
    before = digest(paths.db_file)
    with pytest.raises(AppUnavailable) as caught:
        async with open_app(paths, ENV, clock=FixedClock()):
            pass
    assert "is damaged" in str(caught.value) and f"mv '{paths.db_file}'" in str(caught.value)
    assert digest(paths.db_file) == before
    report = await diagnose(paths, ENV, offline=True, clock=FixedClock())
    [check] = [c for c in report.checks if c.area == "database"]
    assert check.level == "problem" and "move it aside" in (check.fix or "")
    assert digest(paths.db_file) == before


async def test_another_process_holding_the_lock_at_start_only_defers_the_housekeeping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = await _home_with_a_log(tmp_path)
    caplog.set_level(logging.WARNING)
    with held_exclusive(paths.db_file), anyio.fail_after(DEFAULT_BUSY_TIMEOUT_MS / 1000 * 0.6):
        async with open_app(paths, ENV, clock=FixedClock()) as app:
            assert app.problem is not None and "setup" in app.problem  # only the missing configuration
            assert await app.store.fetchall("SELECT COUNT(*) FROM decisions") == [(50,)]
    assert "housekeeping deferred" in caplog.text and "locked" in caplog.text


async def test_an_immutable_database_is_reported_naming_how_to_make_it_writable(tmp_path: Path) -> None:
    paths = await _home_with_a_log(tmp_path)
    before = digest(paths.db_file)
    with unwritable(paths.db_file):
        with pytest.raises(AppUnavailable) as caught:
            async with open_app(paths, ENV, clock=FixedClock()):
                pass
        report = await diagnose(paths, ENV, offline=True, clock=FixedClock())
    assert "cannot be opened for writing" in str(caught.value) and "chattr -i" in str(caught.value)
    assert any(c.area == "database" and c.level == "problem" and "chattr -i" in c.detail for c in report.checks)
    assert digest(paths.db_file) == before


async def test_a_lock_held_on_a_running_server_is_reported_by_status_and_doctor_with_its_fix(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        assert (await s.ok("provider_status"))["ready"]
        with held_exclusive(s.paths.db_file):
            status = await s.ok("provider_status")
            report = await diagnose(s.paths, ENV, offline=True, clock=FixedClock())
        after = await s.ok("provider_status")
    [problem] = status["problems"]
    assert not status["ready"] and "stayed locked" in problem and "Fix: close any `sqlite3` shell" in problem
    assert any(c.area == "database" and c.level == "problem" and "stayed locked" in c.detail for c in report.checks)
    assert after["ready"] and after["problems"] == []


async def test_conversations_idle_past_their_retention_are_deleted_when_the_store_opens(tmp_path: Path) -> None:
    clock = FixedClock()
    paths = write_config(tmp_path, {"settings": {"conversationRetentionHours": 24, "logPrompts": False}})
    turn = Turn(messages=[Message(role="user", content="secret plans")], provider="p", model="m", tokens=1,
                task_type=None, history_tokens=1)  # fmt: skip
    async with open_app(paths, ENV, clock=clock) as app:
        await app.store.write(save_turn_job("old", turn, clock.now - timedelta(hours=25)))
        await app.store.write(save_turn_job("recent", turn, clock.now - timedelta(hours=23)))
    async with open_app(paths, ENV, clock=clock) as app:
        assert await app.conversations.get("old") is None
        assert await app.conversations.get("recent") is not None
        assert await app.store.fetchall("SELECT COUNT(*) FROM message_bodies") == [(1,)]


async def test_a_server_that_met_a_lock_while_upgrading_opens_once_it_frees(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "router.db", migrations=MIGRATIONS[:4]):
        pass  # a home written by an older version: opening it must write (migrate)
    with ExitStack() as lock:
        lock.enter_context(held_exclusive(tmp_path / "router.db"))
        async with mcp_session(tmp_path) as s:
            locked = await s.ok("provider_status")
            lock.close()
            opened = await s.ok("provider_status")
            routed = await s.ok("route_and_complete", prompt="Write a haiku about rain", task_type="creative")
    assert not locked["ready"] and "stayed locked" in locked["problems"][0]
    assert opened["ready"] and routed["text"]


async def test_doctor_online_reports_a_lock_held_while_it_refreshes_the_model_listings(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        with held_exclusive(s.paths.db_file), anyio.fail_after(60):
            report = await diagnose(s.paths, ENV, offline=False, clock=FixedClock())
    listings = [c for c in report.checks if c.name == "model listings"]
    assert [(c.area, c.level) for c in listings] == [("database", "warning")]
    assert "stayed locked" in listings[0].detail
    assert any(c.area == "providers" and c.level == "ok" for c in report.checks)  # the rest of the report is there
