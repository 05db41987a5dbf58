"""A child process for the multi-process tests: `python -m tests.storage.worker MODE DB [JSON args]`.

Modes: `hammer` (reserve/log/settle against shared limits), `rotate` (advance a pool cursor), `hold` (reserve, then
wait to be killed), `hold-transaction` (hold the write lock mid-reservation, then wait to be killed).
`hammer` and `rotate` print `ready` once the store is open and start on a `go` line, so the four processes
really run at the same time; each prints one JSON line of results at the end.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from providers.attempts import AttemptRecord
from providers.models import Account, BudgetSpec, CredentialRef, QuotaSpec
from providers.types import Usage
from storage.accounts import next_in_pool_job
from storage.connection import Connection
from storage.database_url import Database
from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord
from storage.ledger import Ledger, Reservation, settle_job

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WORST_CASE_USD = 0.03
GLOBAL_DAILY_USD = 2.0
ACCOUNTS = (
    Account(
        id="by-requests",
        provider="google",
        kind="gemini",
        base_url="http://127.0.0.1:1",
        credential=CredentialRef(source="none"),
        quota=QuotaSpec(requests_per_day=60, timezone="America/Los_Angeles"),
    ),
    Account(
        id="by-budget",
        provider="openai",
        kind="openai",
        base_url="http://127.0.0.1:1",
        credential=CredentialRef(source="none"),
        budget=BudgetSpec(daily_usd=1.0),
    ),
    Account(
        id="by-global-budget",
        provider="anthropic",
        kind="anthropic",
        base_url="http://127.0.0.1:1",
        credential=CredentialRef(source="none"),
    ),
)


def say(line: str) -> None:
    print(line, flush=True)


async def wait_for_go() -> None:
    say("ready")
    line = await anyio.to_thread.run_sync(sys.stdin.readline)
    if line.strip() != "go":
        raise SystemExit(f"expected go, got {line!r}")


async def hammer(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    ledger = Ledger(store, budget=BudgetSpec(daily_usd=GLOBAL_DAILY_USD))
    log = DecisionLog(store)
    rng = random.Random(args["seed"])
    granted = {account.id: 0 for account in ACCOUNTS}
    spent_nusd = {account.id: 0 for account in ACCOUNTS}
    decisions = attempts = 0
    await wait_for_go()
    for i in range(args["iterations"]):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        # The request-limited account serves a free model, so only its request count can refuse it.
        free = account is ACCOUNTS[0]
        worst_case = 0.0 if free else WORST_CASE_USD
        held = await store.write(
            ledger.reserve_job(account, "m", estimated_tokens=50, worst_case_cost_usd=worst_case, now=NOW)
        )
        record = DecisionRecord(task_summary=f"hammer {i}", provider=account.provider, account=account.id)
        decisions += 1
        if not isinstance(held, Reservation):
            await store.write(log.record_job(record, NOW))
            continue
        cost = 0.0 if free else round(rng.uniform(0.005, WORST_CASE_USD), 6)
        await store.run(settle_job(held, usage=Usage(input_tokens=40, output_tokens=5), cost_usd=cost, now=NOW))
        attempt = AttemptRecord(account.provider, "m", account.id, "success", 1.0, NOW, None, Usage(), cost)
        await store.write(log.record_job(record, NOW, [attempt]))
        attempts += 1
        granted[account.id] += 1
        spent_nusd[account.id] += round(cost * 1e9)
    return {"granted": granted, "spent_nusd": spent_nusd, "decisions": decisions, "attempts": attempts}


async def rotate(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    await wait_for_go()
    return {"chosen": [await store.write(next_in_pool_job("pool", args["pool"])) for _ in range(args["turns"])]}


async def hold(store: Store, args: dict[str, Any]) -> None:
    account = ACCOUNTS[0].model_copy(update={"id": "held", "quota": QuotaSpec(requests_per_day=1)})
    held = await store.write(
        Ledger(store).reserve_job(
            account, "m", estimated_tokens=1, worst_case_cost_usd=0, now=NOW, ttl=timedelta(minutes=args["ttl_minutes"])
        )
    )
    assert isinstance(held, Reservation)
    say(f"reserved {held.id}")
    await anyio.to_thread.run_sync(sys.stdin.readline)


async def hold_transaction(store: Store, args: dict[str, Any]) -> None:
    def job(conn: Connection) -> None:
        conn.execute(
            "INSERT INTO reservations (account, model, owner, state, created_at, expires_at, est_tokens, "
            "est_cost_nusd, tokens, cost_nusd, account_day, account_month, global_day, global_month) "
            "VALUES ('held', 'm', ?, 'pending', 0, 9999999999999, 1, 0, 1, 0, 'd', 'm', 'd', 'm')",
            (store.owner,),
        )
        say("in-transaction")
        sys.stdin.readline()  # killed here, inside the transaction

    await store.write(job)


async def open_target(target: str, *, busy_timeout_ms: int = 5000) -> Store:
    """The store at `target`: a router.db path, or a PostgreSQL URL (each node then keeps its journal in a temp dir)."""
    if target.startswith("postgresql://"):
        journal = Path(tempfile.mkdtemp(prefix="router-node-")) / "router.db"
        database = Database("postgresql", url=target)
        return await Store.open(journal, busy_timeout_ms=busy_timeout_ms, database=database)
    return await Store.open(target, busy_timeout_ms=busy_timeout_ms)


async def main(mode: str, db: str, args: dict[str, Any]) -> None:
    async with await open_target(db, busy_timeout_ms=30_000) as store:
        if mode == "hammer":
            say(json.dumps(await hammer(store, args)))
        elif mode == "rotate":
            say(json.dumps(await rotate(store, args)))
        elif mode == "hold":
            await hold(store, args)
        elif mode == "hold-transaction":
            await hold_transaction(store, args)
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
