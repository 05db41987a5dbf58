"""Concurrent writers of providers.json (issue 12, item 9): the CLI's `config set`, `prefer` and `budget` in
several processes, and the MCP `set_preference` tool, all edit one file. Each write re-reads the file under an OS
lock (`providers.json.lock`), so no update is lost and no value goes backwards; backups stay bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import clients.configfile
import clients.filelock
import server.config.write
from clients.configfile import backups_of
from server.config.paths import Paths
from server.config.write import KEEP_BACKUPS, write_config_edits
from tests.reliability import tally
from tests.server.config.test_write import daily_requests, writers_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
#: bounded: enough processes to contend on 2 cores, each doing a run of writes
PROCESSES, WRITES = 4, 12
WAIT_S = 60  # only a guard against a hang: every wait below ends as soon as its event happens

#: one worker process: a run of CLI verbs (`config set` on its own provider, `budget`), in-process `main` calls
WORKER = """
import sys
from server.cli import main

index, writes = int(sys.argv[1]), int(sys.argv[2])
for n in range(1, writes + 1):
    assert main(["config", "set", f"providers.w{index}.quota.requestsPerDay", str(n)]) == 0
    assert main(["budget", "cost_first" if n % 2 else "free_only"]) == 0
"""


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[Paths]:
    home = Paths.in_home(tmp_path / "home")
    home.home.mkdir()
    home.config_file.write_text(writers_config(PROCESSES))
    yield home


def _edit(paths: Paths, index: int, value: int) -> None:
    write_config_edits(paths, [(("providers", f"w{index}", "quota", "requestsPerDay"), value)], {}, now=NOW)


def test_a_writer_that_read_before_another_wrote_never_overwrites_its_edit(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost update, step by step: A reads, B writes, A writes. Under the lock B waits for A (or, without
    it, finishes in between); either way both edits must be in the file."""
    real_read, real_lock = clients.configfile.read_text, clients.filelock._lock
    b_waits_or_is_done = threading.Event()

    def lock(fd: int, deadline: float) -> None:
        if threading.current_thread().name == "writer-b":
            b_waits_or_is_done.set()  # B has reached the lock: it cannot read until A has written
        real_lock(fd, deadline)

    def read_then_let_b_run(path: Path) -> str | None:
        text = real_read(path)
        if threading.current_thread().name == "writer-a":
            writer_b.start()
            assert b_waits_or_is_done.wait(WAIT_S), "writer B neither finished nor waited for the lock"
        return text

    def run_b() -> None:
        try:
            _edit(paths, 1, 7)
        finally:
            b_waits_or_is_done.set()

    writer_b = threading.Thread(target=run_b, name="writer-b")
    monkeypatch.setattr(server.config.write, "read_text", read_then_let_b_run)
    monkeypatch.setattr(clients.filelock, "_lock", lock)
    writer_a = threading.Thread(target=_edit, args=(paths, 0, 5), name="writer-a")
    writer_a.start()
    writer_a.join(WAIT_S)
    writer_b.join(WAIT_S)
    assert not writer_a.is_alive() and not writer_b.is_alive()
    assert daily_requests(paths)[:2] == [5, 7]


def test_cli_writers_in_several_processes_lose_no_update_and_keep_ten_backups(paths: Paths) -> None:
    env = {**os.environ, "PROVIDER_ROUTER_HOME": str(paths.home), "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(index), str(WRITES)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(PROCESSES)
    ]
    failures = []
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        if worker.returncode != 0:
            failures.append(err)
    assert failures == []
    final = daily_requests(paths)
    lost = sum(WRITES - value for value in final)
    tally.record("rows_lost", lost, test="config writers")
    assert final == [WRITES] * PROCESSES  # every process's last `config set` is in the file
    assert json.loads(paths.config_file.read_text())["preferences"]["budgetMode"] == "free_only"
    assert len(backups_of(paths.config_file)) == KEEP_BACKUPS
    leftovers = [p.name for p in paths.home.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
