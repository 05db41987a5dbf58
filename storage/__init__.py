"""The shared store, on SQLite (sqlite3 on a thread of its own) or PostgreSQL (storage/postgres.py): the only
code that writes SQL. Jobs see one `storage.connection.Connection` whichever the backend.

`Store` is the connection; one small class per concern sits on it: `Ledger` (quota and budget reservations,
snapshot), `AccountStates` (health, breakers, learned limits, pool cursors), `Conversations`, `DecisionLog`,
`Metrics`, `ModelListings`. Every method that needs the time takes `now` (aware); quota windows are in
`storage.windows` (on the calendar rules of `providers.calendar`).
"""

from storage.accounts import AccountStates, BreakerState
from storage.analytics import Analytics, Watermark
from storage.conversations import Conversation, Conversations, Pin, Turn
from storage.db import Store
from storage.decisions import DECISION_OUTCOMES, DecisionLog, DecisionRecord, LoggedDecision, LoggedSwitch, SwitchRecord
from storage.errors import ConversationNotFound, StoreCorrupt, StoreError, StoreLocked, StoreTooNew
from storage.ledger import Ledger, Refused, Reservation
from storage.listings import ModelListings, StoredListing
from storage.metrics import Metrics, MetricsRow
from storage.response_cache import CacheEntry, CacheStats, ResponseCache
from storage.snapshot import AccountState, Health, ModelState, StateSnapshot, Usages, WindowUsage

__all__ = [
    "DECISION_OUTCOMES",
    "AccountState",
    "Analytics",
    "Watermark",
    "AccountStates",
    "BreakerState",
    "CacheEntry",
    "CacheStats",
    "Conversation",
    "ConversationNotFound",
    "Conversations",
    "DecisionLog",
    "DecisionRecord",
    "Health",
    "Ledger",
    "LoggedDecision",
    "LoggedSwitch",
    "Metrics",
    "MetricsRow",
    "ModelListings",
    "ModelState",
    "Pin",
    "Refused",
    "ResponseCache",
    "Reservation",
    "StateSnapshot",
    "StoredListing",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreTooNew",
    "SwitchRecord",
    "Turn",
    "Usages",
    "WindowUsage",
]
