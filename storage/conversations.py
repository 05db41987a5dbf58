"""Conversations: provider-neutral messages, the pinned/current/preferred provider, tokens used; and the global
manual switch (`switch_provider` without a conversation).

Conversation ids are validated before any query: a malformed or hostile id is simply not found.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from providers.types import Message
from providers.values import read_only_hashable
from storage.connection import Connection, is_postgres
from storage.db import Job, Store
from storage.errors import ConversationNotFound
from storage.json_text import dumps_json
from storage.windows import from_ms, to_ms

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: how long a provider keeps a prompt prefix warm after its last use (Anthropic's ephemeral cache: 5 minutes)
WARM_TTL = timedelta(minutes=5)
_GLOBAL = "global"


@read_only_hashable
class Pin:
    """A manual choice in force: a provider, optionally one model of it."""

    provider: str
    model: str | None
    set_at: datetime


@read_only_hashable
class Conversation:
    id: str
    created_at: datetime
    updated_at: datetime
    messages: tuple[Message, ...]
    pinned: Pin | None
    current_provider: str | None
    current_model: str | None
    #: where to return after a failover moved the conversation away
    preferred_provider: str | None
    preferred_model: str | None
    tokens_used: int
    #: the task type of the last routed turn (a significant change lets the conversation move)
    last_task_type: str | None = None
    #: the token estimate of `messages` as saved by the router (None: not known; count the messages)
    history_tokens: int | None = None
    #: (account, model, until): the account whose provider holds this conversation's prompt prefix in its cache
    warm: tuple[str, str, datetime] | None = None


def is_valid_id(conversation_id: str) -> bool:
    """Whether `conversation_id` has the shape of an id (1-64 of A-Z a-z 0-9 _ -)."""
    return _ID.fullmatch(conversation_id) is not None


# One statement: the conversation's columns repeated on each of its messages (or once, with no message).
_SQL_GET = """
SELECT c.created_at, c.updated_at, c.pinned_provider, c.pinned_model, c.pinned_at, c.current_provider,
       c.current_model, c.preferred_provider, c.preferred_model, c.tokens_used, c.last_task_type, c.history_tokens,
       c.warm_account, c.warm_model, c.warm_until, b.message
FROM conversations AS c LEFT JOIN conversation_messages AS m ON m.conversation_id = c.id
LEFT JOIN message_bodies AS b ON b.id = m.body_id
WHERE c.id = ? ORDER BY m.seq"""

# A routed turn: create the conversation if new, or update it, in one statement. `:preferred` 0 keeps the
# preferred provider as it is; 1 sets it (to NULL as well).
_SQL_SAVE_TURN = """
INSERT INTO conversations (id, created_at, updated_at, current_provider, current_model, preferred_provider,
                           preferred_model, tokens_used, last_task_type, history_tokens, warm_account, warm_model,
                           warm_until)
VALUES (:id, :now, :now, :provider, :model, CASE WHEN :preferred = 1 THEN :pref_provider END,
        CASE WHEN :preferred = 1 THEN :pref_model END, :tokens, :task_type, :history_tokens, :warm_account,
        CASE WHEN :warm_account IS NOT NULL THEN :model END, CASE WHEN :warm_account IS NOT NULL THEN :warm_until END)
ON CONFLICT (id) DO UPDATE SET
    updated_at = :now, current_provider = :provider, current_model = :model,
    preferred_provider = CASE WHEN :preferred = 1 THEN :pref_provider ELSE conversations.preferred_provider END,
    preferred_model = CASE WHEN :preferred = 1 THEN :pref_model ELSE conversations.preferred_model END,
    tokens_used = conversations.tokens_used + :tokens, last_task_type = :task_type, history_tokens = :history_tokens,
    warm_account = COALESCE(:warm_account, conversations.warm_account),
    warm_model = CASE WHEN :warm_account IS NOT NULL THEN :model ELSE conversations.warm_model END,
    warm_until = CASE WHEN :warm_account IS NOT NULL THEN :warm_until ELSE conversations.warm_until END"""

# Every new message in two statements: `:messages` is a JSON array of each message's JSON text, stored out of line
# (m008) under ids from `:first` on (read under the write lock, so no other writer takes them).
_SQL_BODIES = """
INSERT INTO message_bodies (id, message) SELECT :first + new.key, new.value FROM json_each(:messages) AS new"""
_SQL_APPEND_MANY = """
INSERT INTO conversation_messages (conversation_id, seq, body_id)
SELECT :id, base.seq + new.key + 1, :first + new.key
FROM json_each(:messages) AS new,
     (SELECT COALESCE(MAX(seq), 0) AS seq FROM conversation_messages WHERE conversation_id = :id) AS base"""
_SQL_FIRST_BODY = "SELECT COALESCE(MAX(id), 0) + 1 FROM message_bodies"


# PostgreSQL's form of the two (its json_each is for objects): the array's elements WITH ORDINALITY (from 1)
_SQL_BODIES_POSTGRES = """
INSERT INTO message_bodies (id, message)
SELECT :first + new.key - 1, new.value FROM json_array_elements_text(CAST(:messages AS json)) WITH ORDINALITY
AS new(value, key)"""
_SQL_APPEND_MANY_POSTGRES = """
INSERT INTO conversation_messages (conversation_id, seq, body_id)
SELECT :id, base.seq + new.key, :first + new.key - 1
FROM json_array_elements_text(CAST(:messages AS json)) WITH ORDINALITY AS new(value, key),
     (SELECT COALESCE(MAX(seq), 0) AS seq FROM conversation_messages WHERE conversation_id = :id) AS base"""


def append_messages(conn: Connection, conversation_id: str, texts: str) -> None:
    """Append `texts` (a JSON array of message JSON texts) to a conversation; run inside a write transaction."""
    first = conn.execute(_SQL_FIRST_BODY).fetchone()[0]
    params = {"id": conversation_id, "messages": texts, "first": first}
    postgres = is_postgres(conn)
    conn.execute(_SQL_BODIES_POSTGRES if postgres else _SQL_BODIES, params)
    conn.execute(_SQL_APPEND_MANY_POSTGRES if postgres else _SQL_APPEND_MANY, params)


@read_only_hashable
class Turn:
    """What the router saves after a served request (see `save_turn_job`)."""

    messages: Sequence[Message]
    provider: str
    model: str
    #: tokens the provider reported for this turn (added to tokens used)
    tokens: int
    task_type: str | None
    #: the token estimate of the whole stored history after this turn
    history_tokens: int | None
    #: where the conversation belongs from now on; None keeps it as it is
    preferred: tuple[str, str | None] | None = None
    #: drop the stored history first (a switch that does not carry it)
    restart: bool = False
    #: the account that served with prompt-cache reads or writes: its cache holds the prefix for WARM_TTL
    warm_account: str | None = None


class Conversations:
    """Conversation state shared by every process."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, now: datetime, *, conversation_id: str | None = None) -> Conversation:
        """Start a conversation, with a fresh id unless one is given.

        Raises:
            ValueError: the given id is malformed or already used.
        """
        new_id = conversation_id if conversation_id is not None else uuid.uuid4().hex
        if not is_valid_id(new_id):
            raise ValueError("a conversation id is 1-64 letters, digits, '_' or '-'")
        now_ms = to_ms(now)
        created = await self._store.execute(
            "INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (new_id, now_ms, now_ms),
        )
        if not created:
            raise ValueError(f"conversation {new_id!r} already exists")
        return Conversation(new_id, from_ms(now_ms), from_ms(now_ms), (), None, None, None, None, None, 0)

    async def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with its messages in order, or None (also for a malformed id)."""
        if not is_valid_id(conversation_id):
            return None
        return await self._store.read(get_job(conversation_id))

    async def pin(self, conversation_id: str, provider: str | None, model: str | None, now: datetime) -> None:
        """Pin a conversation to a provider (and model), or unpin it with `provider=None` (automatic routing).

        Raises:
            ConversationNotFound: no conversation has this id.
        """
        await self._update(
            conversation_id,
            "pinned_provider = ?, pinned_model = ?, pinned_at = ?, updated_at = ?",
            (provider, model if provider else None, to_ms(now) if provider else None, to_ms(now)),
        )

    async def _update(self, conversation_id: str, assignments: str, params: tuple[object, ...]) -> None:
        if not is_valid_id(conversation_id):
            raise ConversationNotFound(conversation_id)
        changed = await self._store.execute(
            f"UPDATE conversations SET {assignments} WHERE id = ?", (*params, conversation_id)
        )
        if not changed:
            raise ConversationNotFound(conversation_id)

    async def set_global_pin(self, provider: str | None, model: str | None, now: datetime) -> None:
        """Set the manual switch in force for every conversation without its own pin; None returns to auto."""
        if provider is None:
            await self._store.execute("DELETE FROM pins WHERE scope = ?", (_GLOBAL,))
            return
        await self._store.execute(
            "INSERT INTO pins (scope, provider, model, set_at) VALUES (?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE "
            "SET provider = excluded.provider, model = excluded.model, set_at = excluded.set_at",
            (_GLOBAL, provider, model, to_ms(now)),
        )

    async def global_pin(self) -> Pin | None:
        """The manual switch in force for all conversations, if any."""
        rows = list(await self._store.fetchall("SELECT provider, model, set_at FROM pins WHERE scope = ?", (_GLOBAL,)))
        return Pin(rows[0][0], rows[0][1], from_ms(rows[0][2])) if rows else None

    async def pinned(self) -> dict[str, Pin]:
        """Every conversation with a pin in force, by id (for `provider_status`)."""
        rows = await self._store.fetchall(
            "SELECT id, pinned_provider, pinned_model, pinned_at FROM conversations WHERE pinned_provider IS NOT NULL"
        )
        return {cid: Pin(provider, model, from_ms(at)) for cid, provider, model, at in rows}


def get_job(conversation_id: str) -> Job[Conversation | None]:
    """`Conversations.get` as a job (one statement), for an id already checked with `is_valid_id`."""

    def job(conn: Connection) -> Conversation | None:
        rows = conn.execute(_SQL_GET, (conversation_id,)).fetchall()
        return _conversation(conversation_id, rows) if rows else None

    return job


def save_turn_job(conversation_id: str, turn: Turn, now: datetime) -> Job[None]:
    """Record a routed turn: create the conversation if it is new, move it to the provider that served, remember
    where it belongs, and append the turn's messages (several statements: run it inside a transaction).

    Raises:
        ValueError: the id is malformed.
    """
    if not is_valid_id(conversation_id):
        raise ValueError("a conversation id is 1-64 letters, digits, '_' or '-'")
    preferred = turn.preferred
    params = {
        "id": conversation_id,
        "now": to_ms(now),
        "provider": turn.provider,
        "model": turn.model,
        "preferred": preferred is not None,
        "pref_provider": preferred[0] if preferred else None,
        "pref_model": preferred[1] if preferred else None,
        "tokens": turn.tokens,
        "task_type": turn.task_type,
        "history_tokens": turn.history_tokens,
        "warm_account": turn.warm_account,
        "warm_until": to_ms(now + WARM_TTL),
    }
    texts = dumps_json([m.model_dump_json() for m in turn.messages]) if turn.messages else None

    def job(conn: Connection) -> None:
        if turn.restart:
            conn.execute("DELETE FROM conversation_messages WHERE conversation_id = ?", (conversation_id,))
        conn.execute(_SQL_SAVE_TURN, params)
        if texts is not None:
            append_messages(conn, conversation_id, texts)

    return job


#: messages already read, by their stored JSON text: a stored body never changes, and a `Message` is frozen, so a
#: conversation's history is validated once per process rather than on every turn (bounded; cleared when full)
_READ: dict[str, Message] = {}
_READ_MAX = 2048
#: longer texts are validated on every read (the cache stays small)
_READ_MAX_CHARS = 16_384


def _validated(text: str) -> Message:
    return Message.model_validate_json(text)


def _message(text: str) -> Message:
    message = _READ.get(text)
    if message is None:
        message = _validated(text)
        if len(text) <= _READ_MAX_CHARS:
            if len(_READ) >= _READ_MAX:
                _READ.clear()
            _READ[text] = message
    return message


def _conversation(conversation_id: str, rows: list[Any]) -> Conversation:
    created, updated, pin_p, pin_m, pin_at, cur_p, cur_m, pref_p, pref_m, tokens, task_type, history, *warm, _ = rows[0]
    warm_account, warm_model, warm_until = warm
    return Conversation(
        id=conversation_id,
        created_at=from_ms(created),
        updated_at=from_ms(updated),
        messages=tuple(_message(row[-1]) for row in rows if row[-1] is not None),
        pinned=Pin(pin_p, pin_m, from_ms(pin_at)) if pin_p else None,
        current_provider=cur_p,
        current_model=cur_m,
        preferred_provider=pref_p,
        preferred_model=pref_m,
        tokens_used=tokens,
        last_task_type=task_type,
        history_tokens=history,
        warm=(warm_account, warm_model, from_ms(warm_until)) if warm_account and warm_until is not None else None,
    )
