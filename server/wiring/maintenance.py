"""Housekeeping of router.db: settlements kept while it was locked, expired reservations, the daily roll-ups of
the decision log, the decision log's and the conversations' retention. Done when a process opens the store, and
hourly by a running server.

None of it is needed to serve: a database another process holds locked only defers it (to a later tick or the
next start), so a busy ledger never keeps a server from answering `initialize`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import anyio

from server.config import RouterSettings
from server.wiring.bookkeeping_port import finish_job
from server.wiring.settlements import DRAIN_WAIT_MS, journal_of, settle_pending, settle_waiting
from storage import DecisionLog, Store, StoreError, StoreLocked
from storage.connection import Connection
from storage.journal import purge_applied_job
from storage.ledger import reap_job
from storage.retention import RETENTION_BATCH, prune_conversations, prune_decisions
from storage.rollups import roll_up
from storage.windows import to_ms

log = logging.getLogger(__name__)

#: how long start-up housekeeping waits for another process's write lock before leaving the work for later
START_WAIT_MS = 200
#: how long a status check waits for the write lock before it reports the lock as a problem
LOCK_PROBE_MS = 100
#: how often a running server looks for kept settlements (a `stat` of the journal when there are none)
TICK_S = 1.0
#: how often a running server redoes the start-up housekeeping
MAINTAIN_EVERY = timedelta(hours=1)
#: ids of applied journal units are kept this long (a replay can only follow a crash right after the apply)
KEEP_APPLIED = timedelta(days=7)


async def maintain(
    store: Store, decisions: DecisionLog, settings: RouterSettings, now: datetime, *, batch_size: int = RETENTION_BATCH
) -> None:
    """Apply kept settlements, expire reservations, roll up the complete days not rolled up yet (a day per
    transaction, storage/rollups.py) and prune by retention, waiting at most START_WAIT_MS for the write lock each
    time. Days are rolled up before their raw rows are pruned: a roll-up that cannot take the lock stops the prune
    too. Retention deletes `batch_size` rows per transaction, repeated until done, so routing's writes take the
    lock between two batches.

    Raises:
        StoreLocked: another process holds router.db's write lock (the work waits for a later chance).
        StoreError: router.db is damaged, read-only or failed otherwise (the message names the fix).
    """
    await settle_pending(store, decisions, finish_job, now, busy_timeout_ms=START_WAIT_MS)
    reap = reap_job(now)
    forget = purge_applied_job(to_ms(now - KEEP_APPLIED))

    def job(conn: Connection) -> None:
        reap(conn)
        forget(conn)

    await store.write(job, busy_timeout_ms=START_WAIT_MS)
    wait = START_WAIT_MS
    await roll_up(store, now, settings.timezone, busy_timeout_ms=wait)
    await prune_decisions(
        store, now - timedelta(days=settings.retention_days), batch_size=batch_size, busy_timeout_ms=wait
    )
    await prune_conversations(
        store, now - timedelta(hours=settings.conversation_retention_hours), batch_size=batch_size, busy_timeout_ms=wait
    )


async def housekeeping(
    store: Store,
    decisions: Callable[[], DecisionLog],
    settings: Callable[[], RouterSettings],
    clock: Callable[[], datetime],
    *,
    every_s: float = TICK_S,
    wait: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> None:
    """Until cancelled, beside a server's requests: apply kept settlements as soon as router.db's lock frees (an
    idle server does not leave them for the next request), and redo the start-up housekeeping every
    MAINTAIN_EVERY (expiry, retention), so a server that runs for days still keeps to the retention settings."""
    journal = journal_of(store)
    last = clock()

    async def drain() -> int:
        return await settle_pending(store, decisions(), finish_job, clock(), busy_timeout_ms=DRAIN_WAIT_MS)

    while True:
        await wait(every_s)
        await settle_waiting(drain, journal)
        now = clock()
        if now - last < MAINTAIN_EVERY:
            continue
        try:
            await maintain(store, decisions(), settings(), now)
        except StoreLocked:
            continue  # the next tick tries again
        except (StoreError, OSError) as error:
            log.warning("housekeeping of router.db failed: %s", error)
        last = now


async def store_problems(store: Store) -> list[str]:
    """What keeps router.db from taking writes right now (another process's lock, a file turned read-only), each
    naming the fix; empty when it takes them. Also says how many served answers wait to be recorded."""
    try:
        await store.write(lambda _conn: None, busy_timeout_ms=LOCK_PROBE_MS)
    except StoreLocked as error:
        journal = journal_of(store)
        waiting = len(await journal.entries())
        kept = f" {waiting} served answer(s) wait in {journal.path} and are recorded when it frees." if waiting else ""
        return [f"{error}{kept}"]
    except StoreError as error:
        return [str(error)]
    return []
