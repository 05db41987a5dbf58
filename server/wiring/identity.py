"""Who is asking: the team member a request over `serve --http` is attributed to (None: the local user).

The MCP layer sets it around each tool call and resource read (server.mcp.identity); the store's ports read it
to reserve within the member's caps and to attribute the reservation and the decision; the views read it to show a
member only their own decisions unless they are an admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from storage.team import Member

_CURRENT: ContextVar[Member | None] = ContextVar("provider_router_member", default=None)


def current_member() -> Member | None:
    """The member the running request is attributed to, or None (stdio, or loopback without a team)."""
    return _CURRENT.get()


def visible_member() -> str | None:
    """Whose decisions the running request may see: its member's name, or None (everyone's) for an admin or the
    local user."""
    member = _CURRENT.get()
    return None if member is None or member.admin else member.name


@contextmanager
def acting_as(member: Member | None) -> Iterator[None]:
    """Attribute what runs inside to `member`."""
    token = _CURRENT.set(member)
    try:
        yield
    finally:
        _CURRENT.reset(token)
