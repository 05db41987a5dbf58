"""Team members in the store: tokens kept only as hashes, and a member's caps counted like the global budget
(settled spend by trigger, live reservations at their worst case)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from providers.types import Usage
from storage.connection import Connection
from storage.db import Store
from storage.ledger import Ledger, Refused, Reservation, settle_job
from storage.quota_check import to_nusd
from storage.team import (
    Member,
    MemberExists,
    add_job,
    any_member_job,
    attribute_job,
    by_token_job,
    list_job,
    member_check,
    new_token,
    remove_job,
    rotate_job,
    token_hash,
)
from storage.windows import day_window, month_window
from tests.storage.conftest import NOW, make_account

pytestmark = pytest.mark.anyio

DAY, MONTH = day_window(NOW, "UTC"), month_window(NOW, "UTC")


async def _hold(store: Store, member: Member, cost: float) -> Reservation | Refused:
    """A reservation of `cost` at its worst case, within the member's caps, as the server's port makes it."""
    reserve = Ledger(store).reserve_job(
        make_account(), "model-a", estimated_tokens=10, worst_case_cost_usd=cost, now=NOW
    )

    def job(conn: Connection) -> Reservation | Refused:
        refusal = member_check(conn, member, to_nusd(cost), DAY, MONTH, NOW)
        if refusal is not None:
            return refusal
        granted = reserve(conn)
        if isinstance(granted, Reservation):
            attribute_job(granted.id, member.name)(conn)
        return granted

    return await store.write(job)


async def test_only_the_token_s_hash_is_stored_and_it_finds_its_member(store: Store) -> None:
    token = new_token()
    await store.write(add_job(Member("alice", budget_daily_usd=1.5), token_hash(token), NOW))
    assert await store.read(by_token_job(token_hash(token))) == Member("alice", budget_daily_usd=1.5)
    assert await store.read(by_token_job(token_hash(token + "x"))) is None
    rows = await store.fetchall("SELECT * FROM team_members")
    assert token not in repr(rows)


async def test_a_taken_name_is_refused_with_the_fix(store: Store) -> None:
    await store.write(add_job(Member("alice"), token_hash(new_token()), NOW))
    with pytest.raises(MemberExists, match="team rotate alice"):
        await store.write(add_job(Member("alice"), token_hash(new_token()), NOW))


async def test_rotating_retires_the_old_token_and_removing_retires_the_member(store: Store) -> None:
    old, new = new_token(), new_token()
    assert not await store.read(any_member_job)
    await store.write(add_job(Member("bob", admin=True), token_hash(old), NOW))
    assert await store.write(rotate_job("bob", token_hash(new), NOW))
    assert await store.read(by_token_job(token_hash(old))) is None
    assert await store.read(by_token_job(token_hash(new))) == Member("bob", admin=True)
    assert await store.write(remove_job("bob"))
    assert not await store.write(remove_job("bob")) and not await store.write(rotate_job("bob", "x", NOW))
    assert not await store.read(any_member_job)


async def test_a_member_s_daily_cap_counts_live_reservations_then_settled_spend(store: Store) -> None:
    alice = Member("alice", budget_daily_usd=1.0)
    await store.write(add_job(alice, token_hash(new_token()), NOW))
    first = await _hold(store, alice, 0.6)
    assert isinstance(first, Reservation)
    refused = await _hold(store, alice, 0.6)  # 0.6 held + 0.6 > 1.0
    assert isinstance(refused, Refused)
    assert (refused.limit, refused.scope, refused.resets_at) == ("budget_daily_usd", "member:alice", DAY.end)
    await store.write(settle_job(first, usage=Usage(input_tokens=5), cost_usd=0.1, now=NOW))
    assert isinstance(await _hold(store, alice, 0.6), Reservation)  # 0.1 settled + 0.6 fits
    rows = await store.read(list_job(DAY, MONTH))
    assert [(r.member.name, r.spent_today_usd, r.spent_month_usd, r.requests_today) for r in rows] == [
        ("alice", 0.1, 0.1, 1)
    ]


async def test_another_member_s_spend_does_not_count_and_a_call_over_the_whole_cap_never_fits(store: Store) -> None:
    alice, bob = Member("alice", budget_monthly_usd=1.0), Member("bob", budget_monthly_usd=1.0)
    assert isinstance(await _hold(store, alice, 0.9), Reservation)
    assert isinstance(await _hold(store, bob, 0.9), Reservation)
    too_big = await _hold(store, bob, 1.5)
    assert isinstance(too_big, Refused) and too_big.resets_at is None and too_big.limit == "budget_monthly_usd"


async def test_a_reservation_past_its_expiry_stops_counting_against_the_member(store: Store) -> None:
    alice = Member("alice", budget_daily_usd=1.0)
    assert isinstance(await _hold(store, alice, 0.9), Reservation)
    later = NOW + timedelta(minutes=16)
    rows = await store.read(lambda conn: member_check(conn, alice, to_nusd(0.9), DAY, MONTH, later))
    assert rows is None
