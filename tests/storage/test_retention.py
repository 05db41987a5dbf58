"""Retention in bounded batches: a year of decisions, attempts, switches and conversations pruned a batch per
transaction, everything newer than the cutoff kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.connection import Connection
from storage.db import Store
from storage.retention import prune_conversations, prune_decisions
from storage.windows import to_ms
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

DAYS = 365
PER_DAY = 24


def seed_year(conn: Connection) -> None:
    """A year of traffic up to NOW: PER_DAY decisions a day, each with two attempts, a switch every day."""
    decisions: list[tuple[int, int]] = []
    attempts: list[tuple[int, int, str, str | None]] = []
    switches: list[tuple[int, int]] = []
    for day in range(DAYS):
        for n in range(PER_DAY):
            at = to_ms(NOW - timedelta(days=day, hours=n))
            decision_id = len(decisions) + 1
            decisions.append((decision_id, at))
            attempts += [(decision_id, at, "failed", "rate_limited"), (decision_id, at + 1, "success", None)]
        switches.append((to_ms(NOW - timedelta(days=day)), len(decisions)))
    conn.executemany(
        "INSERT INTO decisions (id, created_at, task_summary, candidates, exclusions, scores) "
        "VALUES (?, ?, 't', '[]', '[]', '{}')",
        decisions,
    )
    conn.executemany(
        "INSERT INTO attempts (decision_id, created_at, provider, model, account, outcome, error_class, latency_ms, "
        "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd) "
        "VALUES (?, ?, 'openai', 'gpt', 'a', ?, ?, 10, 1, 1, 0, 0, 0, 5)",
        attempts,
    )
    conn.executemany("INSERT INTO switches (created_at, reason, decision_id) VALUES (?, 'failover', ?)", switches)


def count(conn: Connection, table: str, cutoff_ms: int) -> tuple[int, int]:
    older = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE created_at < ?", (cutoff_ms,)).fetchone()[0]
    newer = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE created_at >= ?", (cutoff_ms,)).fetchone()[0]
    return int(older), int(newer)


async def test_a_year_of_decisions_is_pruned_in_bounded_batches_and_nothing_newer_is_touched(store: Store) -> None:
    await store.write(seed_year)
    cutoff = NOW - timedelta(days=30)

    def counts(conn: Connection) -> dict[str, tuple[int, int]]:
        return {table: count(conn, table, to_ms(cutoff)) for table in ("decisions", "attempts")}

    before = await store.read(counts)
    pruned = await prune_decisions(store, cutoff, batch_size=500)
    after = await store.read(counts)
    assert after == {t: (0, before[t][1]) for t in before}
    assert pruned.decisions == before["decisions"][0] and pruned.attempts == before["attempts"][0]
    # each transaction deleted at most 500 decisions with their two attempts, and there were as many as needed
    assert pruned.largest_batch <= 500 * 3 + 500
    assert pruned.transactions >= pruned.decisions // 500
    assert pruned.transactions <= pruned.decisions // 500 + 2
    switches = await store.fetchall("SELECT COUNT(*), MIN(created_at) FROM switches")
    assert switches[0][0] == 31 and switches[0][1] >= to_ms(cutoff)
    # pruning again finds nothing, in one transaction
    again = await prune_decisions(store, cutoff, batch_size=500)
    assert (again.decisions, again.transactions) == (0, 1)


async def test_pruning_every_decision_leaves_no_attempt_behind(store: Store) -> None:
    await store.write(seed_year)
    await prune_decisions(store, NOW + timedelta(days=1), batch_size=1000)
    rows = await store.fetchall("SELECT (SELECT COUNT(*) FROM decisions), (SELECT COUNT(*) FROM attempts)")
    assert rows == [(0, 0)]


async def test_old_conversations_go_in_batches_with_their_messages_and_bodies(store: Store) -> None:
    def seed(conn: Connection) -> None:
        for n in range(50):
            at = to_ms(NOW - timedelta(days=n))
            conn.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)", (f"c{n}", at, at))
            body = conn.execute("INSERT INTO message_bodies (message) VALUES ('hi') RETURNING id").fetchone()[0]
            conn.execute(
                "INSERT INTO conversation_messages (conversation_id, seq, body_id) VALUES (?, 0, ?)", (f"c{n}", body)
            )

    await store.write(seed)
    pruned = await prune_conversations(store, NOW - timedelta(days=9, hours=12), batch_size=7)
    assert pruned.conversations == 40 and pruned.largest_batch <= 14
    assert pruned.transactions == 6
    rows = await store.fetchall(
        "SELECT (SELECT COUNT(*) FROM conversations), (SELECT COUNT(*) FROM conversation_messages), "
        "(SELECT COUNT(*) FROM message_bodies)"
    )
    assert rows == [(10, 10, 10)]


async def test_a_batch_size_below_one_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await prune_decisions(store, NOW, batch_size=0)
