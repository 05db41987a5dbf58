"""The schema: each step of it, in order (storage/migrations.py applies them and records each in `_migrations`).

A step that has shipped is never edited or reordered; a change is a new function appended to `MIGRATIONS`.
Instants are unix milliseconds (UTC); money is integer nano-USD so sums are exact.
"""

from __future__ import annotations

from collections.abc import Callable

from storage.connection import Connection

#: one step of the schema, run inside the transaction that records it (plain functions since the store runs whole
#: units of work on its thread; the statements are those that shipped)
Migration = Callable[[Connection], None]


def _run(conn: Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


def m001_ledger_and_accounts(conn: Connection) -> None:
    """Reservations, settled usage counters per calendar period, account health, retired models, pool cursors."""
    _run(
        conn,
        """CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            model TEXT NOT NULL,
            owner TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'settled', 'released', 'expired')),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            settled_at INTEGER,
            est_tokens INTEGER NOT NULL,
            est_cost_nusd INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            account_day TEXT NOT NULL,
            account_month TEXT NOT NULL,
            global_day TEXT NOT NULL,
            global_month TEXT NOT NULL
        )""",
        "CREATE INDEX reservations_by_account_time ON reservations (account, created_at)",
        "CREATE INDEX reservations_by_time ON reservations (created_at)",
        "CREATE INDEX reservations_pending ON reservations (expires_at) WHERE state = 'pending'",
        # account '' = every account (global); model '' = every model of the account.
        """CREATE TABLE usage_counters (
            account TEXT NOT NULL,
            model TEXT NOT NULL,
            period TEXT NOT NULL,
            requests INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            PRIMARY KEY (account, model, period)
        ) WITHOUT ROWID""",
        "CREATE INDEX usage_counters_by_period ON usage_counters (period)",
        # Settling adds the real amounts to every counter in the same statement, so a settle is one round trip
        # and the counters can never disagree with the settled reservations.
        """CREATE TRIGGER reservations_settled AFTER UPDATE OF state ON reservations
        WHEN NEW.state = 'settled' AND OLD.state != 'settled'
        BEGIN
            INSERT INTO usage_counters (account, model, period, requests, tokens, cost_nusd) VALUES
                (NEW.account, '', NEW.account_day, 1, NEW.tokens, NEW.cost_nusd),
                (NEW.account, '', NEW.account_month, 1, NEW.tokens, NEW.cost_nusd),
                (NEW.account, NEW.model, NEW.account_day, 1, NEW.tokens, NEW.cost_nusd),
                (NEW.account, NEW.model, NEW.account_month, 1, NEW.tokens, NEW.cost_nusd),
                ('', '', NEW.global_day, 1, NEW.tokens, NEW.cost_nusd),
                ('', '', NEW.global_month, 1, NEW.tokens, NEW.cost_nusd)
            ON CONFLICT (account, model, period) DO UPDATE SET
                requests = requests + excluded.requests,
                tokens = tokens + excluded.tokens,
                cost_nusd = cost_nusd + excluded.cost_nusd;
        END""",
        # model '' = the whole account.
        """CREATE TABLE account_state (
            account TEXT NOT NULL,
            model TEXT NOT NULL,
            cooldown_until INTEGER,
            cooldown_reason TEXT,
            exhausted_until INTEGER,
            exhausted_reason TEXT,
            disabled_reason TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            breaker_open_until INTEGER,
            learned_requests_limit INTEGER,
            learned_tokens_limit INTEGER,
            learned_at INTEGER,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account, model)
        ) WITHOUT ROWID""",
        """CREATE TABLE retired_models (
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            reason TEXT NOT NULL,
            retired_at INTEGER NOT NULL,
            PRIMARY KEY (provider, model)
        ) WITHOUT ROWID""",
        """CREATE TABLE pool_cursors (
            pool TEXT PRIMARY KEY,
            last_account TEXT NOT NULL,
            turns INTEGER NOT NULL
        ) WITHOUT ROWID""",
    )


def m002_conversations(conn: Connection) -> None:
    """Conversations, their provider-neutral messages, and the global manual switch."""
    _run(
        conn,
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            pinned_provider TEXT,
            pinned_model TEXT,
            pinned_at INTEGER,
            current_provider TEXT,
            current_model TEXT,
            preferred_provider TEXT,
            preferred_model TEXT,
            tokens_used INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX conversations_by_update ON conversations (updated_at)",
        """CREATE TABLE conversation_messages (
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        ) WITHOUT ROWID""",
        """CREATE TABLE pins (
            scope TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT,
            set_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    )


def m003_decision_log(conn: Connection) -> None:
    """One row per routing decision (JSON columns), one per attempt, one per switch of provider."""
    _run(
        conn,
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            conversation_id TEXT,
            task_summary TEXT NOT NULL,
            prompt TEXT,
            task_type TEXT,
            quality TEXT,
            candidates TEXT NOT NULL,
            exclusions TEXT NOT NULL,
            scores TEXT NOT NULL,
            provider TEXT,
            model TEXT,
            account TEXT,
            reason TEXT,
            confidence REAL,
            dry_run INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX decisions_by_time ON decisions (created_at)",
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            decision_id INTEGER NOT NULL REFERENCES decisions (id) ON DELETE CASCADE,
            created_at INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            account TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error_class TEXT,
            latency_ms REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL
        )""",
        "CREATE INDEX attempts_by_decision ON attempts (decision_id)",
        "CREATE INDEX attempts_by_time ON attempts (created_at)",
        """CREATE TABLE switches (
            id INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            conversation_id TEXT,
            from_provider TEXT,
            from_model TEXT,
            to_provider TEXT,
            to_model TEXT,
            reason TEXT NOT NULL,
            decision_id INTEGER REFERENCES decisions (id) ON DELETE SET NULL
        )""",
        "CREATE INDEX switches_by_time ON switches (created_at)",
    )


def m004_conversation_routing(conn: Connection) -> None:
    """What a conversation's next routing decision needs without re-reading its history: the task type of its
    last turn (a significant change frees it to move) and the token estimate of its stored history (NULL: not
    known yet, counted from the messages on the next read)."""
    _run(
        conn,
        "ALTER TABLE conversations ADD COLUMN last_task_type TEXT",
        "ALTER TABLE conversations ADD COLUMN history_tokens INTEGER",
    )


def m005_model_listings(conn: Connection) -> None:
    """What each account's provider last listed as its models (JSON), when that listing was fetched, and the last
    attempt to refresh it (with its error, key-free, when it failed)."""
    _run(
        conn,
        """CREATE TABLE model_listings (
            provider TEXT NOT NULL,
            account TEXT NOT NULL,
            fetched_at INTEGER,
            models TEXT NOT NULL DEFAULT '[]',
            checked_at INTEGER NOT NULL,
            error TEXT,
            PRIMARY KEY (provider, account)
        )""",
    )


def m006_usage_estimated(conn: Connection) -> None:
    """Whether an attempt's usage is the router's estimate: the provider reported none to believe."""
    _run(conn, "ALTER TABLE attempts ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0")


def m007_settlement_journal(conn: Connection) -> None:
    """The ids of the journaled units of work (storage.journal) already applied: a unit is applied in the same
    transaction that records its id, so one replayed after a crash is recognised and never counted twice."""
    _run(conn, "CREATE TABLE journal_applied (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) WITHOUT ROWID")


def m008_message_bodies_out_of_line(conn: Connection) -> None:
    """Message bodies move to a rowid table of their own: large rows in the WITHOUT ROWID `conversation_messages`
    made every insert beside them slow (10,000 short messages took 15 s next to one 5 MB message). The keyed table
    keeps only (conversation, seq, body id); deleting its row deletes the body."""
    _run(
        conn,
        "CREATE TABLE message_bodies (id INTEGER PRIMARY KEY, message TEXT NOT NULL)",
        """CREATE TABLE conversation_messages_keyed (
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            body_id INTEGER NOT NULL,
            PRIMARY KEY (conversation_id, seq)
        ) WITHOUT ROWID""",
        """INSERT INTO message_bodies (id, message)
        SELECT ROW_NUMBER() OVER (ORDER BY conversation_id, seq), message FROM conversation_messages""",
        """INSERT INTO conversation_messages_keyed (conversation_id, seq, body_id)
        SELECT conversation_id, seq, ROW_NUMBER() OVER (ORDER BY conversation_id, seq) FROM conversation_messages""",
        "DROP TABLE conversation_messages",
        "ALTER TABLE conversation_messages_keyed RENAME TO conversation_messages",
        """CREATE TRIGGER conversation_messages_deleted AFTER DELETE ON conversation_messages
        BEGIN
            DELETE FROM message_bodies WHERE id = OLD.body_id;
        END""",
    )


def m009_response_cache(conn: Connection) -> None:
    """The response cache (README "Response cache"): one answer per key (a sha256 of the canonical request, the
    model class and the conversation scope), and one row of running totals that `cache clear` keeps."""
    _run(
        conn,
        """CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            scope TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            last_used_at INTEGER NOT NULL,
            size_bytes INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0,
            answer TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX response_cache_last_used ON response_cache (last_used_at)",
        """CREATE TABLE response_cache_totals (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            hits INTEGER NOT NULL,
            tokens_saved INTEGER NOT NULL,
            cost_saved_nusd INTEGER NOT NULL
        )""",
        "INSERT INTO response_cache_totals (id, hits, tokens_saved, cost_saved_nusd) VALUES (1, 0, 0, 0)",
    )


def m010_latency_stats(conn: Connection) -> None:
    """Speed per (provider, model, account) (storage.latency): the decaying TTFT and output-rate estimates, the
    recent samples as JSON, and the store-wide sequence of the last observation; output tokens per task type."""
    _run(
        conn,
        """CREATE TABLE latency_stats (
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            account TEXT NOT NULL,
            samples INTEGER NOT NULL,
            ttft_ewma_ms REAL,
            tps_ewma REAL,
            recent TEXT NOT NULL,
            seq INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (provider, model, account)
        ) WITHOUT ROWID""",
        """CREATE TABLE output_stats (
            task_type TEXT PRIMARY KEY,
            samples INTEGER NOT NULL,
            tokens_ewma REAL NOT NULL
        ) WITHOUT ROWID""",
    )


def m011_quotas_warm_prefix(conn: Connection) -> None:
    """Predictive quotas and prompt caching (README "Predictive quotas"): what response headers last said is left
    of an account+model's per-minute windows, until when (the router counts below it, and stops at 0); and which
    account holds a conversation's warm prompt-cache prefix, of which model, until when."""
    _run(
        conn,
        "ALTER TABLE account_state ADD COLUMN header_requests_left INTEGER",
        "ALTER TABLE account_state ADD COLUMN header_requests_reset_at INTEGER",
        "ALTER TABLE account_state ADD COLUMN header_tokens_left INTEGER",
        "ALTER TABLE account_state ADD COLUMN header_tokens_reset_at INTEGER",
        "ALTER TABLE conversations ADD COLUMN warm_account TEXT",
        "ALTER TABLE conversations ADD COLUMN warm_model TEXT",
        "ALTER TABLE conversations ADD COLUMN warm_until INTEGER",
    )


def m012_team_members(conn: Connection) -> None:
    """Team mode (README "Team mode"): members with the sha256 of their bearer token (never the token), their own
    USD caps in nano-USD, per-member settled counters kept by a trigger as `usage_counters` are, and the member
    each reservation and decision belongs to (NULL: the local user, over stdio)."""
    _run(
        conn,
        """CREATE TABLE team_members (
            name TEXT PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE,
            admin INTEGER NOT NULL DEFAULT 0,
            budget_daily_nusd INTEGER,
            budget_monthly_nusd INTEGER,
            created_at INTEGER NOT NULL,
            rotated_at INTEGER
        ) WITHOUT ROWID""",
        """CREATE TABLE member_counters (
            member TEXT NOT NULL,
            period TEXT NOT NULL,
            requests INTEGER NOT NULL,
            tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            PRIMARY KEY (member, period)
        ) WITHOUT ROWID""",
        "ALTER TABLE reservations ADD COLUMN member TEXT",
        "CREATE INDEX reservations_member_pending ON reservations (member, expires_at) WHERE state = 'pending'",
        "ALTER TABLE decisions ADD COLUMN member TEXT",
        "CREATE INDEX decisions_by_member ON decisions (member, id)",
        # the member's periods are the global budget's (the ledger's zone)
        """CREATE TRIGGER reservations_settled_member AFTER UPDATE OF state ON reservations
        WHEN NEW.state = 'settled' AND OLD.state != 'settled' AND NEW.member IS NOT NULL
        BEGIN
            INSERT INTO member_counters (member, period, requests, tokens, cost_nusd) VALUES
                (NEW.member, NEW.global_day, 1, NEW.tokens, NEW.cost_nusd),
                (NEW.member, NEW.global_month, 1, NEW.tokens, NEW.cost_nusd)
            ON CONFLICT (member, period) DO UPDATE SET
                requests = requests + excluded.requests,
                tokens = tokens + excluded.tokens,
                cost_nusd = cost_nusd + excluded.cost_nusd;
        END""",
    )


def m013_attempt_ttft(conn: Connection) -> None:
    """attempts.ttft_ms: the time to first token of a streamed attempt (NULL: not measured). Added only when an
    earlier step has not added it already."""
    if not any(row[1] == "ttft_ms" for row in conn.execute("PRAGMA table_info(attempts)")):
        _run(conn, "ALTER TABLE attempts ADD COLUMN ttft_ms REAL")


def m014_daily_rollups(conn: Connection) -> None:
    """Daily roll-ups of the decision log (storage/rollups.py): per local day (`day_start`: its first instant),
    attempts summed per
    provider, model, task type, outcome, error class, member and decision shape (latency histograms as JSON), and
    decisions counted per task type, routed provider, outcome and member; the days rolled (and whether retention
    has pruned raw rows of them). '' stands for none
    (a primary key column cannot be NULL everywhere). Portable SQL: tables and indexes only."""
    _run(
        conn,
        """CREATE TABLE rollup_attempts (
            day TEXT NOT NULL,
            day_start INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error_class TEXT NOT NULL,
            member TEXT NOT NULL,
            multi INTEGER NOT NULL,
            served INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cost_nusd INTEGER NOT NULL,
            latency_ms_sum REAL NOT NULL,
            latency_hist TEXT NOT NULL,
            ttft_hist TEXT NOT NULL,
            PRIMARY KEY (day_start, provider, model, task_type, outcome, error_class, member, multi, served)
        )""",
        "CREATE INDEX rollup_attempts_by_member ON rollup_attempts (member, day_start)",
        """CREATE TABLE rollup_decisions (
            day TEXT NOT NULL,
            day_start INTEGER NOT NULL,
            task_type TEXT NOT NULL,
            provider TEXT NOT NULL,
            outcome TEXT NOT NULL,
            multi INTEGER NOT NULL,
            member TEXT NOT NULL,
            decisions INTEGER NOT NULL,
            PRIMARY KEY (day_start, task_type, provider, outcome, multi, member)
        )""",
        "CREATE INDEX rollup_decisions_by_member ON rollup_decisions (member, day_start)",
        """CREATE TABLE rollup_days (
            day TEXT PRIMARY KEY,
            start_ms INTEGER NOT NULL,
            end_ms INTEGER NOT NULL,
            rolled_at INTEGER NOT NULL,
            raw_pruned INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX rollup_days_by_start ON rollup_days (start_ms)",
    )


def m015_member_indexes_partial(conn: Connection) -> None:
    """The two member indexes hold members' rows only (`member IS NOT NULL`): a request without a team member no
    longer writes an entry to either (one index page less per reservation, per settlement and per decision). Every
    query that used them compares `member = ?`, which implies `member IS NOT NULL`, so both backends still use them.
    Portable SQL: indexes only."""
    _run(
        conn,
        "DROP INDEX reservations_member_pending",
        "CREATE INDEX reservations_member_pending ON reservations (member, expires_at)"
        " WHERE state = 'pending' AND member IS NOT NULL",
        "DROP INDEX decisions_by_member",
        "CREATE INDEX decisions_by_member ON decisions (member, id) WHERE member IS NOT NULL",
    )


def m016_latency_store_sequence(conn: Connection) -> None:
    """latency_stats.store_seq: the store-wide sequence of the row's last observation (storage.latency), so an
    estimate the whole store went on without for long is known as stale even when its (provider, model) has no
    other account to count by. Rows written before start at 0. Portable SQL: one column."""
    _run(conn, "ALTER TABLE latency_stats ADD COLUMN store_seq INTEGER NOT NULL DEFAULT 0")


MIGRATIONS: tuple[Migration, ...] = (
    m001_ledger_and_accounts,
    m002_conversations,
    m003_decision_log,
    m004_conversation_routing,
    m005_model_listings,
    m006_usage_estimated,
    m007_settlement_journal,
    m008_message_bodies_out_of_line,
    m009_response_cache,
    m010_latency_stats,
    m011_quotas_warm_prefix,
    m012_team_members,
    m013_attempt_ttft,
    m014_daily_rollups,
    m015_member_indexes_partial,
    m016_latency_store_sequence,
)
