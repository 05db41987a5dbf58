"""A request's end kept beside router.db while another process holds its lock (storage.journal), as JSON.

`StoreBookkeeping.finish` keeps its unit of work here when router.db's write lock stays held past the busy
timeout: the answer the provider served goes back to the caller at once, and the settlement, health changes,
decision, attempts and turn are applied when the lock frees: by the next request's bookkeeping in any process, at
the start of any process, or by a running server's housekeeping (server.wiring.maintenance.housekeeping).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from pydantic import TypeAdapter, ValidationError

from routing.ports import (
    Change,
    CoolDown,
    DecisionLogEntry,
    Disable,
    Exhaust,
    Failed,
    Hold,
    Learn,
    Observe,
    PoolServed,
    Release,
    RetireModel,
    SavedTurn,
    Settle,
    Succeeded,
)
from server.wiring.identity import acting_as, current_member
from storage import DecisionLog, Reservation, Store, StoreError, StoreLocked
from storage.db import Job
from storage.journal import Decode, Journal
from storage.team import Member

log = logging.getLogger(__name__)

#: how long a drain waits for the write lock when it is not the caller's own work (it holds up the store's thread)
DRAIN_WAIT_MS = 50
UNIT_VERSION = 1

_CHANGES: tuple[type[Any], ...] = (
    Settle, Release, CoolDown, Exhaust, Disable, RetireModel, Failed, Succeeded, Learn, PoolServed, Observe,
)  # fmt: skip


class _Adapters(NamedTuple):
    changes: dict[str, TypeAdapter[Any]]
    reservation: TypeAdapter[Reservation]
    entry: TypeAdapter[DecisionLogEntry]
    turn: TypeAdapter[SavedTurn]


@cache
def _adapters() -> _Adapters:
    """The journal's (de)serialisers, built when a unit is first written or read: only a locked database needs them,
    and building them costs ~5 ms of every start."""
    return _Adapters(
        {cls.__name__: TypeAdapter(cls) for cls in _CHANGES},
        TypeAdapter(Reservation),
        TypeAdapter(DecisionLogEntry),
        TypeAdapter(SavedTurn),
    )


#: builds the one job of a request's end (server.wiring.bookkeeping_port.finish_job)
FinishJob = Callable[[DecisionLog, Sequence[Change], DecisionLogEntry, "SavedTurn | None", datetime], Job[int]]


def journal_of(store: Store) -> Journal:
    """The journal beside `store`'s database (`router.db.pending`)."""
    return Journal.beside(store.path)


def encode_change(change: Change) -> dict[str, Any]:
    """A change as JSON, tagged with its kind (a reservation's handle is the ledger's `Reservation`)."""
    name = type(change).__name__
    return {"kind": name, **_adapters().changes[name].dump_python(change, mode="json")}


def decode_change(data: Mapping[str, Any]) -> Change:
    """Raises ValueError for data that is not a change."""
    kind = data.get("kind")
    adapters = _adapters()
    if not isinstance(kind, str) or kind not in adapters.changes:
        raise ValueError(f"unknown change {kind!r}")
    change: Change = adapters.changes[kind].validate_python(
        {key: value for key, value in data.items() if key != "kind"}
    )
    if isinstance(change, Settle | Release):
        change = replace(change, hold=Hold(adapters.reservation.validate_python(change.hold.token)))
    return change


def encode_unit(
    changes: Sequence[Change], entry: DecisionLogEntry, turn: SavedTurn | None, now: datetime
) -> dict[str, Any]:
    """A request's end as JSON (the `finish` of a BookkeepingPort), with the member it is attributed to."""
    member = current_member()
    return {
        "v": UNIT_VERSION,
        "kind": "finish",
        "now": now.isoformat(),
        "member": member.name if member is not None else None,
        "changes": [encode_change(change) for change in changes],
        "entry": _adapters().entry.dump_python(entry, mode="json"),
        "turn": _adapters().turn.dump_python(turn, mode="json") if turn is not None else None,
    }


def decode_unit(
    unit: Mapping[str, Any],
) -> tuple[list[Change], DecisionLogEntry, SavedTurn | None, datetime]:
    """Raises ValueError for a unit this version cannot read."""
    try:
        if unit.get("v") != UNIT_VERSION or unit.get("kind") != "finish":
            raise ValueError(f"unit version {unit.get('v')!r} of kind {unit.get('kind')!r} is not known")
        now = datetime.fromisoformat(unit["now"])
        changes = [decode_change(change) for change in unit["changes"]]
        entry = _adapters().entry.validate_python(unit["entry"])
        turn = _adapters().turn.validate_python(unit["turn"]) if unit["turn"] is not None else None
    except (KeyError, TypeError, ValidationError) as error:
        raise ValueError(f"malformed unit: {error}") from error
    return changes, entry, turn, now


def _member_of(unit: Mapping[str, Any]) -> Member | None:
    """The member a unit was kept for (units kept before members were journaled have none)."""
    name = unit.get("member")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"malformed unit: member {name!r} is not a name")
    return Member(name) if name else None


def decoder(decisions: DecisionLog, finish_job: FinishJob) -> Decode:
    """Reads a journaled unit back into the job that applies it."""

    def decode(unit: Mapping[str, Any]) -> Job[object]:
        changes, entry, turn, now = decode_unit(unit)
        with acting_as(_member_of(unit)):  # the job attributes its decision to the member it is built for
            return finish_job(decisions, changes, entry, turn, now)

    return decode


async def settle_pending(
    store: Store, decisions: DecisionLog, finish_job: FinishJob, now: datetime, *, busy_timeout_ms: int | None = None
) -> int:
    """Apply the units waiting beside `store` (see storage.journal); returns how many were applied now.

    Raises:
        StoreLocked: router.db is still locked (they wait for the next try).
        StoreError: router.db failed otherwise.
    """
    return await journal_of(store).drain(store, decoder(decisions, finish_job), now, busy_timeout_ms=busy_timeout_ms)


async def settle_waiting(drain: Callable[[], Awaitable[int]], journal: Journal) -> None:
    """One try at the units waiting in `journal`, if any (a locked store leaves them for the next try)."""
    if not journal.waiting():
        return
    try:
        applied = await drain()
    except StoreLocked:
        return
    except (StoreError, OSError) as error:
        log.warning("settlements kept in %s could not be applied: %s", journal.path, error)
        return
    if applied:
        log.info("applied %d settlement(s) kept while router.db was locked", applied)
