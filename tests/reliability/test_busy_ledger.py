"""router.db touched by other processes, from outside: `python -m server.serve` over stdio on a damaged, locked or
immutable database, a lock held across a call, and SIGTERM in the middle of one.

- damaged pages, another process's `BEGIN EXCLUSIVE` at start, an immutable file: the server starts, answers
  `initialize`, and `provider_status`, `route_and_complete` and `doctor` name the problem and its fix (no
  traceback); a damaged file is left byte for byte as it was.
- a lock held from before the provider answers until after the call: the answer reaches the caller, its
  settlement waits in router.db.pending and is applied exactly once when the lock frees (not again on restart).
- SIGTERM while a call waits on the provider: the call is cancelled (reservation released, decision logged
  `cancelled`) and the server exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest

from providers.simulator import Simulator
from server.config.paths import Paths
from server.wiring.app import open_app
from server.wiring.maintenance import START_WAIT_MS
from tests.clock import FixedClock, fixed_epoch, on_test_clock
from tests.damaged_db import damage_table, digest, held_exclusive, unwritable
from tests.harness import ENV, write_config
from tests.reliability import tally
from tests.reliability.stdio import ROOT, RawServer, raw_server, server_environ
from tests.reliability.support import BACKUP, matrix_accounts, matrix_config

pytestmark = pytest.mark.anyio

TASK = {"prompt": "Write a unit test for parse()", "task_type": "coding"}


async def _seeded(home: Path, sim: Simulator) -> Paths:
    """A home routing to the simulator, its database holding a little history."""
    paths = write_config(home, matrix_config(sim))
    async with open_app(paths, ENV, clock=FixedClock()) as app:
        for n in range(40):
            await app.store.execute(
                "INSERT INTO decisions (created_at, task_summary, candidates, exclusions, scores) "
                "VALUES (0, ?, '[]', '[]', '{}')",
                (f"earlier task {n} " * 50,),
            )
    return paths


def _doctor(home: Path) -> dict[str, Any]:
    done = subprocess.run(
        on_test_clock("server.cli", "doctor", "--offline", "--json"),
        env=server_environ(home, ENV),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _text(result: dict[str, Any]) -> str:
    return "\n".join(block.get("text", "") for block in result.get("content", []))


async def _explains(server: RawServer, fix: str) -> None:
    """provider_status and route_and_complete both name `fix`, without a traceback."""
    status = await server.call("provider_status", {})
    assert not status.get("isError"), status
    assert not status["structuredContent"]["ready"]
    assert any(fix in problem for problem in status["structuredContent"]["problems"])
    routed = await server.call("route_and_complete", TASK)
    assert routed.get("isError") and fix in _text(routed) and "Traceback" not in _text(routed)


async def test_a_damaged_database_still_lets_the_server_start_and_name_the_fix(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        paths = await _seeded(tmp_path, sim)
        damage_table(paths.db_file, "decisions")
        before = digest(paths.db_file)
        with anyio.fail_after(60):
            async with raw_server(tmp_path, ENV) as server:
                await _explains(server, f"mv '{paths.db_file}'")
            report = await anyio.to_thread.run_sync(_doctor, tmp_path)
    [check] = [c for c in report["checks"] if c["area"] == "database"]
    assert check["level"] == "problem" and "move it aside" in check["fix"]
    assert digest(paths.db_file) == before
    tally.record("inputs", test="busy ledger: damaged database")


async def test_an_immutable_database_still_lets_the_server_start_and_name_the_fix(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        paths = await _seeded(tmp_path, sim)
        before = digest(paths.db_file)
        with unwritable(paths.db_file), anyio.fail_after(60):
            async with raw_server(tmp_path, ENV) as server:
                await _explains(server, "chattr -i")
            report = await anyio.to_thread.run_sync(_doctor, tmp_path)
    [check] = [c for c in report["checks"] if c["area"] == "database"]
    assert check["level"] == "problem" and "chattr -i" in check["fix"]
    assert digest(paths.db_file) == before
    tally.record("inputs", test="busy ledger: immutable database")


async def test_a_lock_held_at_start_delays_nothing_and_a_call_meeting_it_gets_a_clear_error(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        paths = await _seeded(tmp_path, sim)
        with anyio.fail_after(60):
            with held_exclusive(paths.db_file):
                async with raw_server(tmp_path, ENV) as server:
                    status = await server.call("provider_status", {})
                    routed = await server.call("route_and_complete", TASK)
                assert not status.get("isError"), status
                assert any("stayed locked" in problem for problem in status["structuredContent"]["problems"])
                # the start waited only its short while for the lock, then left its housekeeping for later (the
                # server has exited: its stderr is whole)
                deferred = f"start-up housekeeping deferred: router.db at {paths.db_file} stayed locked by another "
                assert f"{deferred}connection for more than {START_WAIT_MS} ms".encode() in server.stderr
                assert routed.get("isError") and "stayed locked" in _text(routed) and "Fix:" in _text(routed)
                assert "Traceback" not in _text(routed)
            async with raw_server(tmp_path, ENV) as server:
                served = await server.call("route_and_complete", TASK)
    assert not served.get("isError"), served
    tally.record("inputs", test="busy ledger: locked at start")


def _rows(db: Path, sql: str) -> list[Any]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


async def _arrived(sim: Simulator, count: int) -> None:
    while sim.stats(BACKUP).requests < count:
        await anyio.sleep(0.005)


async def test_a_lock_held_across_a_call_returns_the_answer_and_settles_it_exactly_once(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        paths = await _seeded(tmp_path, sim)
        db = paths.db_file
        with anyio.fail_after(90):
            async with raw_server(tmp_path, ENV) as server:
                sim.configure(BACKUP, latency_ms=300)
                async with anyio.create_task_group() as group:
                    answers: list[dict[str, Any]] = []
                    answered = anyio.Event()

                    async def call() -> None:
                        answers.append(await server.call("route_and_complete", TASK))
                        answered.set()

                    group.start_soon(call)
                    await _arrived(sim, 1)
                    with held_exclusive(db):  # taken after the reservation, held until the call has returned
                        await answered.wait()
                        [first] = answers
                        assert not first.get("isError"), first
                        assert first["structuredContent"]["text"] and first["structuredContent"]["decision_id"] is None
                        assert _rows(db, "SELECT state FROM reservations") == [("pending",)]
                        assert db.with_name("router.db.pending").read_text().count("\n") == 1
                sim.configure(BACKUP, latency_ms=0)
                second = await server.call("route_and_complete", TASK)  # the next request applies the kept one
                assert not second.get("isError"), second
        assert sim.stats(BACKUP).requests == 2
        async with open_app(paths, ENV, clock=FixedClock()) as app:  # a restart applies nothing twice
            settled = await app.store.fetchall("SELECT COUNT(*) FROM reservations WHERE state = 'settled'")
            logged = await app.store.fetchall(
                "SELECT COUNT(*) FROM decisions d JOIN attempts a ON a.decision_id = d.id WHERE a.outcome = 'success'"
            )
            counted = await app.store.fetchall(
                "SELECT requests FROM usage_counters WHERE account = '' AND period LIKE '____-__-__'"
            )
            conversation = await app.conversations.get(first["structuredContent"]["conversation_id"])
    assert settled == [(2,)] and logged == [(2,)] and counted == [(2,)]
    assert conversation is not None and len(conversation.messages) == 2
    assert db.with_name("router.db.pending").read_text() == ""
    tally.record("requests", 2, test="busy ledger: lock held across a call")
    tally.record("rows_lost", 0, test="busy ledger: lock held across a call")


async def test_sigterm_mid_call_releases_the_reservation_logs_cancelled_and_exits_0(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        paths = await _seeded(tmp_path, sim)
        sim.configure(BACKUP, latency_ms=120_000)
        with anyio.fail_after(60):
            async with raw_server(tmp_path, ENV) as server, anyio.create_task_group() as group:
                outcome: list[BaseException | dict[str, Any]] = []

                async def call() -> None:
                    try:
                        outcome.append(await server.call("route_and_complete", TASK))
                    except EOFError as gone:
                        outcome.append(gone)

                group.start_soon(call)
                await _arrived(sim, 1)
                os.kill(server.pid, signal.SIGTERM)
                assert await server.process.wait() == 0
        [ended] = outcome  # the caller learns the server went away (or gets a cancellation error), never an answer
        assert isinstance(ended, EOFError) or (
            isinstance(ended, dict) and (ended.get("isError") or ended.get("rpc_error"))
        )
        async with open_app(paths, ENV, clock=FixedClock()) as app:
            states = await app.store.fetchall("SELECT state FROM reservations")
            [logged] = await app.decisions.recent(1)
    assert states == [("released",)]
    assert [a.outcome for a in logged.attempts] == ["cancelled"]
    tally.record("kills", test="busy ledger: SIGTERM mid-call")


async def test_sigterm_to_an_idle_server_exits_0_without_waiting_for_the_client(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        await _seeded(tmp_path, sim)
        with anyio.fail_after(30):
            async with raw_server(tmp_path, ENV) as server:
                assert not (await server.call("provider_status", {})).get("isError")
                os.kill(server.pid, signal.SIGTERM)  # stdin stays open: the client is still there
                assert await server.process.wait() == 0
    tally.record("kills", test="busy ledger: SIGTERM idle")
