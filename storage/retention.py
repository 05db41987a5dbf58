"""Retention in bounded batches: decisions (with their attempts), switches and conversations (with their messages
and message bodies) older than a cutoff are deleted a batch per transaction, repeated until none is left.

A year of rows to prune never holds the write lock for long: each transaction deletes at most `batch_size` rows of
the table it prunes (plus their children: a decision's attempts, a conversation's messages), and routing's own
writes take the lock between two batches. Nothing at or after the cutoff is touched. The SQL is portable (plain
`SELECT … LIMIT` then `DELETE … WHERE id IN (…)`).
"""

from __future__ import annotations

from datetime import datetime

from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job, Store
from storage.windows import to_ms

#: rows of one table deleted per transaction (a decision's attempts, a conversation's messages come along)
RETENTION_BATCH = 2000


@read_only_hashable
class Pruned:
    """What one prune deleted, and in how many transactions; `largest_batch` is the most rows (parents and
    children) one transaction deleted."""

    decisions: int = 0
    attempts: int = 0
    switches: int = 0
    conversations: int = 0
    transactions: int = 0
    largest_batch: int = 0


def _in(ids: list[int] | list[str]) -> str:
    return ", ".join("?" * len(ids))


def decisions_batch_job(cutoff_ms: int, batch_size: int) -> Job[tuple[int, int, int]]:
    """Delete up to `batch_size` of the oldest decisions made before `cutoff_ms` with their attempts, and up to
    `batch_size` switches before it (run inside a transaction); returns (decisions, attempts, switches) deleted."""

    def job(conn: Connection) -> tuple[int, int, int]:
        # the rolled-up days that lose raw rows are read from their roll-ups from now on
        conn.execute("UPDATE rollup_days SET raw_pruned = 1 WHERE start_ms < ? AND raw_pruned = 0", (cutoff_ms,))
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM decisions WHERE created_at < ? ORDER BY created_at LIMIT ?", (cutoff_ms, batch_size)
        )]  # fmt: skip
        attempts = decisions = 0
        if ids:
            attempts = conn.execute(f"DELETE FROM attempts WHERE decision_id IN ({_in(ids)})", ids).rowcount
            conn.execute(f"UPDATE switches SET decision_id = NULL WHERE decision_id IN ({_in(ids)})", ids)
            decisions = conn.execute(f"DELETE FROM decisions WHERE id IN ({_in(ids)})", ids).rowcount
        switch_ids = [row[0] for row in conn.execute(
            "SELECT id FROM switches WHERE created_at < ? ORDER BY created_at LIMIT ?", (cutoff_ms, batch_size)
        )]  # fmt: skip
        switches = 0
        if switch_ids:
            switches = conn.execute(f"DELETE FROM switches WHERE id IN ({_in(switch_ids)})", switch_ids).rowcount
        return decisions, attempts, switches

    return job


def conversations_batch_job(cutoff_ms: int, batch_size: int) -> Job[tuple[int, int]]:
    """Delete up to `batch_size` conversations not updated since `cutoff_ms`, with their messages and message
    bodies (run inside a transaction); returns (conversations, messages) deleted."""

    def job(conn: Connection) -> tuple[int, int]:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM conversations WHERE updated_at < ? ORDER BY updated_at LIMIT ?", (cutoff_ms, batch_size)
        )]  # fmt: skip
        if not ids:
            return 0, 0
        messages = conn.execute(
            f"SELECT COUNT(*) FROM conversation_messages WHERE conversation_id IN ({_in(ids)})", ids
        ).fetchone()[0]
        # the messages go with their conversation (ON DELETE CASCADE), their bodies with them (a trigger)
        return conn.execute(f"DELETE FROM conversations WHERE id IN ({_in(ids)})", ids).rowcount, int(messages)

    return job


async def prune_decisions(
    store: Store, cutoff: datetime, *, batch_size: int = RETENTION_BATCH, busy_timeout_ms: int | None = None
) -> Pruned:
    """Delete every decision (with its attempts) and switch older than `cutoff`, a bounded batch per transaction.

    Raises:
        StoreLocked: another process held the write lock past `busy_timeout_ms` (the batches done so far stay done;
            the rest waits for the next prune).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    job = decisions_batch_job(to_ms(cutoff), batch_size)
    decisions = attempts = switches = transactions = largest = 0
    while True:
        d, a, s = await store.write(job, busy_timeout_ms=busy_timeout_ms)
        transactions += 1
        decisions, attempts, switches = decisions + d, attempts + a, switches + s
        largest = max(largest, d + a + s)
        if d < batch_size and s < batch_size:
            return Pruned(decisions, attempts, switches, 0, transactions, largest)


async def prune_conversations(
    store: Store, cutoff: datetime, *, batch_size: int = RETENTION_BATCH, busy_timeout_ms: int | None = None
) -> Pruned:
    """Delete every conversation not updated since `cutoff` (with its messages), a bounded batch per transaction.

    Raises:
        StoreLocked: as `prune_decisions`.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    job = conversations_batch_job(to_ms(cutoff), batch_size)
    conversations = transactions = largest = 0
    while True:
        c, messages = await store.write(job, busy_timeout_ms=busy_timeout_ms)
        transactions += 1
        conversations += c
        largest = max(largest, c + messages)
        if c < batch_size:
            return Pruned(conversations=conversations, transactions=transactions, largest_batch=largest)
