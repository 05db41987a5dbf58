"""Load: several server processes on one database, many concurrent callers each, random faults upstream.

No deadlock (every call answers in bounded time), no `database is locked` reaching a caller, memory flat across
the run (slow version), and the ledger exact: every upstream success recorded once, counters equal the settled
reservations, the decision log's costs equal the ledger's, nothing left pending.

CI runs a short version (4 processes x 8 callers for a few seconds); the soak is
`.venv/bin/pytest tests/reliability -m slow` (4 x 16 for PROVIDER_ROUTER_SOAK_S seconds, default 180).
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.reliability import tally
from tests.reliability.load import LoadReport, audit, run_load

pytestmark = pytest.mark.anyio

SOAK_S = float(os.environ.get("PROVIDER_ROUTER_SOAK_S", "180"))
#: growth of a server's resident memory allowed between the first quarter of the soak and its end
MEMORY_SLACK_KB = 30_000


async def _run_and_audit(home: Path, processes: int, concurrency: int, duration_s: float) -> LoadReport:
    with anyio.fail_after(duration_s + 120):
        report = await run_load(home, processes=processes, concurrency=concurrency, duration_s=duration_s)
    totals = await audit(home)
    assert report.locked == [] and not any("database is locked" in err for err in report.stderr)
    assert report.served > 0 and report.calls >= processes * concurrency
    unclear = [reason for reason in report.errors if not reason or reason.startswith("Error executing tool")]
    assert unclear == [], report.errors
    assert totals["integrity"] == "ok" and totals["pending"] == 0
    assert totals["settled"] == totals["counted"]
    assert totals["settled_cost"] == totals["counted_cost"] == totals["attempt_cost"] == report.served_cost_nusd
    assert totals["successes"] == report.served
    assert totals["success_by_account"] == {k: v for k, v in report.succeeded_upstream.items() if v}
    tally.record("faults", report.faults_injected, test=f"load {processes}x{concurrency}")
    tally.record("requests", report.calls, test=f"load {processes}x{concurrency}")
    return report


async def test_four_processes_with_eight_callers_each_stay_exact_under_random_faults(tmp_path: Path) -> None:
    await _run_and_audit(tmp_path, processes=4, concurrency=8, duration_s=4)


@pytest.mark.slow
async def test_soak_four_processes_with_sixteen_callers_each_for_minutes(tmp_path: Path) -> None:
    report = await _run_and_audit(tmp_path, processes=4, concurrency=16, duration_s=SOAK_S)
    for pid, samples in report.rss_kb.items():
        warm = samples[max(1, len(samples) // 4)]
        assert samples[-1] - warm < MEMORY_SLACK_KB, (pid, samples)
