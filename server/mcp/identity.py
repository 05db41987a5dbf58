"""Each tool call and resource read runs as the member its HTTP request was attributed to (server.mcp.http's token
gate puts the member in the request's ASGI scope); over stdio there is no request, hence no member."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool as MCPTool

from server.mcp.schema import compact_schema
from server.mcp.state import ServerState
from server.wiring.identity import acting_as
from storage.team import Member

#: where the token gate leaves the member in the ASGI scope's `state`
MEMBER_KEY = "provider_router_member"


def member_of(context: Context[ServerState, Any] | None) -> Member | None:
    """The member the request behind `context` was attributed to (None: stdio, or a loopback server without a
    team)."""
    if context is None:
        return None
    try:
        request = context.request_context.request
    except ValueError:  # no request behind this context
        return None
    scope = getattr(request, "scope", None)
    state = scope.get("state") if isinstance(scope, dict) else None
    member = state.get(MEMBER_KEY) if isinstance(state, dict) else None
    return member if isinstance(member, Member) else None


def team_change_refused(member: Member | None, name: str, arguments: dict[str, Any]) -> str | None:
    """Why `member` may not call tool `name` so: what changes routing for the whole team (preferences, a global
    pin) is an admin's (or the local user's); a member may still pin their own conversation."""
    if member is None or member.admin:
        return None
    if name == "set_preference" or (name == "switch_provider" and not arguments.get("conversation_id")):
        return (
            f"member {member.name} cannot change the team's routing ({name}): ask an admin "
            "(`provider-router team add NAME --admin`), or pass conversation_id to switch only your conversation"
        )
    return None


@contextmanager
def _sdk_logging_left_alone() -> Iterator[None]:
    """While it lasts, MCPServer's constructor does not set up logging: it would import `rich` (tens of ms of a
    cold start) only to build a handler that `logging.basicConfig` then drops, the root logger being ours already
    (server.wiring.logging_setup). A newer SDK without that hook is left as it is."""
    module = sys.modules.get("mcp.server.mcpserver.server")
    original = getattr(module, "configure_logging", None)
    if module is None or original is None:
        yield
        return
    setattr(module, "configure_logging", lambda *args, **kwargs: None)  # noqa: B010 (mypy: a module's function)
    try:
        yield
    finally:
        setattr(module, "configure_logging", original)  # noqa: B010


class IdentifiedServer(MCPServer[ServerState]):
    """The MCP server whose tools and resources run as the caller's member (server.wiring.identity), and whose
    tool list publishes the compact output schemas."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _sdk_logging_left_alone():
            super().__init__(*args, **kwargs)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[ServerState, Any] | None = None
    ) -> Any:
        member = member_of(context)
        refused = team_change_refused(member, name, arguments)
        if refused is not None:
            raise ToolError(refused)
        with acting_as(member):
            return await super().call_tool(name, arguments, context)

    async def list_tools(self) -> list[MCPTool]:
        """The tools, each output schema in its equivalent form that validating clients check faster
        (server.mcp.schema)."""
        tools = await super().list_tools()
        return [tool.model_copy(update={"output_schema": compact_schema(tool.output_schema)}) for tool in tools]

    async def read_resource(
        self, uri: Any, context: Context[ServerState, Any] | None = None
    ) -> Iterable[ReadResourceContents] | Any:
        with acting_as(member_of(context)):
            return await super().read_resource(uri, context)
