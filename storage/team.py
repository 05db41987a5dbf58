"""Team members (README "Team mode"): who may call `serve --http`, with their own USD caps.

Only the sha256 of a member's bearer token is stored; the token itself is shown once by `team add` / `team rotate`.
A member's spend is summed per calendar period of the ledger's zone in `member_counters` (a trigger keeps it as
reservations settle, m012), and `member_check` reads it with the member's live reservations inside the ledger's
own `BEGIN IMMEDIATE` transaction, so the member's caps and the global ones hold together, on every candidate.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from providers.values import read_only_hashable
from storage.connection import Connection
from storage.db import Job
from storage.quota_check import NANO, LimitName, Refused, to_nusd
from storage.windows import Window, from_ms, to_ms

#: a member's name: what `team add` accepts (it shows in logs, reports and the decision log)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
TOKEN_PREFIX = "prt_"


@read_only_hashable
class Member:
    """A member of the team: their caps (None: only the global caps apply) and whether they see everyone's log."""

    name: str
    admin: bool = False
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None


@read_only_hashable
class MemberRow:
    """A member as `team list` shows them: with today's and this month's settled spend."""

    member: Member
    created_at: datetime
    spent_today_usd: float
    spent_month_usd: float
    requests_today: int


class MemberExists(ValueError):
    """`team add` of a name already taken."""


def new_token() -> str:
    """A fresh bearer token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its sha256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """The name, when it is a valid member name.

    Raises:
        ValueError: not one; the message names the rule.
    """
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"{name[:70]!r} is not a valid member name: use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _nusd(usd: float | None) -> int | None:
    return None if usd is None else to_nusd(usd)


def _usd(nusd: int | None) -> float | None:
    return None if nusd is None else nusd / NANO


_COLUMNS = "name, admin, budget_daily_nusd, budget_monthly_nusd"


def _member(row: tuple[str, int, int | None, int | None]) -> Member:
    return Member(name=row[0], admin=bool(row[1]), budget_daily_usd=_usd(row[2]), budget_monthly_usd=_usd(row[3]))


def add_job(member: Member, token_sha256: str, now: datetime) -> Job[None]:
    """Add a member holding the token whose hash is given.

    Raises (from the job):
        MemberExists: the name is taken.
    """
    row = (check_name(member.name), token_sha256, int(member.admin), _nusd(member.budget_daily_usd),
           _nusd(member.budget_monthly_usd), to_ms(now))  # fmt: skip

    def job(conn: Connection) -> None:
        if conn.execute("SELECT 1 FROM team_members WHERE name = ?", (member.name,)).fetchone():
            raise MemberExists(
                f"member {member.name!r} already exists: pick another name, or `provider-router team rotate "
                f"{member.name}` for a new token"
            )
        conn.execute(
            "INSERT INTO team_members (name, token_sha256, admin, budget_daily_nusd, budget_monthly_nusd, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )

    return job


def remove_job(name: str) -> Job[bool]:
    """Remove a member (their past decisions keep their name); the job returns False when there was none."""
    return lambda conn: conn.execute("DELETE FROM team_members WHERE name = ?", (name,)).rowcount > 0


def rotate_job(name: str, token_sha256: str, now: datetime) -> Job[bool]:
    """Replace a member's token (the old one stops working at once); False when there is no such member."""
    params = (token_sha256, to_ms(now), name)
    return lambda conn: (
        conn.execute("UPDATE team_members SET token_sha256 = ?, rotated_at = ? WHERE name = ?", params).rowcount > 0
    )


def by_token_job(token_sha256: str) -> Job[Member | None]:
    """The member holding the token with this hash, or None."""

    def job(conn: Connection) -> Member | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM team_members WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return _member(row) if row is not None else None

    return job


def by_name_job(name: str) -> Job[Member | None]:
    """The member of this name, or None."""

    def job(conn: Connection) -> Member | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM team_members WHERE name = ?", (name,)).fetchone()
        return _member(row) if row is not None else None

    return job


def any_member_job(conn: Connection) -> bool:
    """Whether any member is configured (a job)."""
    return conn.execute("SELECT 1 FROM team_members LIMIT 1").fetchone() is not None


def list_job(day: Window, month: Window) -> Job[list[MemberRow]]:
    """Every member, by name, with their settled spend in `day` and `month` (the ledger's periods)."""

    def job(conn: Connection) -> list[MemberRow]:
        rows = conn.execute(
            f"SELECT {_COLUMNS}, created_at, "
            "(SELECT cost_nusd FROM member_counters c WHERE c.member = m.name AND c.period = ?), "
            "(SELECT cost_nusd FROM member_counters c WHERE c.member = m.name AND c.period = ?), "
            "(SELECT requests FROM member_counters c WHERE c.member = m.name AND c.period = ?) "
            "FROM team_members m ORDER BY name",
            (day.key, month.key, day.key),
        ).fetchall()
        return [
            MemberRow(_member(row[:4]), from_ms(row[4]), (row[5] or 0) / NANO, (row[6] or 0) / NANO, row[7] or 0)
            for row in rows
        ]

    return job


_SQL_MEMBER_SPEND = """
SELECT
    COALESCE((SELECT cost_nusd FROM member_counters WHERE member = :member AND period = :day), 0),
    COALESCE((SELECT cost_nusd FROM member_counters WHERE member = :member AND period = :month), 0),
    COALESCE((SELECT SUM(est_cost_nusd) FROM reservations WHERE member = :member AND state = 'pending'
              AND expires_at > :now AND global_day = :day), 0),
    COALESCE((SELECT SUM(est_cost_nusd) FROM reservations WHERE member = :member AND state = 'pending'
              AND expires_at > :now AND global_month = :month), 0)"""


def member_check(
    conn: Connection, member: Member, cost_nusd: int, day: Window, month: Window, now: datetime
) -> Refused | None:
    """Whether one more call of worst case `cost_nusd` fits the member's caps; run inside the reservation's
    `BEGIN IMMEDIATE` transaction (settled spend plus live reservations, as the global budget is counted)."""
    if member.budget_daily_usd is None and member.budget_monthly_usd is None:
        return None
    params = {"member": member.name, "day": day.key, "month": month.key, "now": to_ms(now)}
    settled_day, settled_month, pending_day, pending_month = conn.execute(_SQL_MEMBER_SPEND, params).fetchone()
    checks: tuple[tuple[LimitName, float | None, int, Window], ...] = (
        ("budget_daily_usd", member.budget_daily_usd, settled_day + pending_day, day),
        ("budget_monthly_usd", member.budget_monthly_usd, settled_month + pending_month, month),
    )
    for limit, cap, used, window in checks:
        if cap is None:
            continue
        cap_nusd = to_nusd(cap)
        if used + cost_nusd > cap_nusd:
            alone = cost_nusd > cap_nusd
            return Refused(
                limit,
                f"member:{member.name}",
                None if alone else window.end,
                f"member {member.name}'s {limit.split('_')[1]} cap ${cap:g}: ${used / NANO:.4f} spent or held",
            )
    return None


def attribute_job(reservation_id: int, member: str) -> Job[None]:
    """Mark a reservation as the member's (inside the transaction that made it)."""

    def job(conn: Connection) -> None:
        conn.execute("UPDATE reservations SET member = ? WHERE id = ?", (member, reservation_id))

    return job


def attribute_decision_job(decision_id: int, member: str) -> Job[None]:
    """Mark a decision as the member's (inside the transaction that recorded it)."""

    def job(conn: Connection) -> None:
        conn.execute("UPDATE decisions SET member = ? WHERE id = ?", (member, decision_id))

    return job
