"""The client's workspace: the MCP roots it declares, else the server's working directory.

The roots are asked for (`roots/list`) on every call that attaches files or images, so a client's changed roots
(`notifications/roots/list_changed`) are always the ones in force; a call without attachments asks nothing. The tool
body asks, not an SDK resolver, because the same call may also hand a sampling request to the client and a call has
one `input_required` channel: a 2026-07-28 client gets `roots/list` in an `InputRequiredResult` (and again beside a
later sampling request, so its retry carries both answers); an older client is asked mid-call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from mcp.server.mcpserver import Context
from mcp.shared.message import ServerMessageMetadata
from mcp.types import InputRequest, ListRootsRequest, ListRootsResult

from server.mcp.sampling import INPUT_REQUIRED_VERSION
from server.workspace import Workspace

#: the key of the roots request in `input_requests` / `input_responses`
ROOTS_KEY = "provider-router/roots"


class RootsDeferred(Exception):
    """A 2026-07-28 client must be asked for its roots: the call returns the request and is retried with them."""


def roots_request(ctx: Context[Any, Any], attaching: bool) -> dict[str, InputRequest]:
    """The roots request to send (again) with any input round of this call: empty when roots are not asked."""
    if not attaching or not _declares_roots(ctx) or not _input_rounds(ctx):
        return {}
    return {ROOTS_KEY: ListRootsRequest()}


async def client_workspace(ctx: Context[Any, Any], cwd: Path | None = None) -> Workspace:
    """The workspace of a call that attaches files: the client's roots, else the server's working directory."""
    if not _declares_roots(ctx):
        return workspace_of(None, cwd)
    if _input_rounds(ctx):
        answer = (ctx.input_responses or {}).get(ROOTS_KEY)
        if answer is None:
            raise RootsDeferred
        wire = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
        return workspace_of(ListRootsResult.model_validate(wire), cwd)
    listed = await ctx.session.send_request(
        ListRootsRequest(), ListRootsResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
    )
    return workspace_of(listed, cwd)


def _declares_roots(ctx: Context[Any, Any]) -> bool:
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.roots is not None


def _input_rounds(ctx: Context[Any, Any]) -> bool:
    version = ctx.protocol_version
    return version is not None and version >= INPUT_REQUIRED_VERSION


def _path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(url2pathname(unquote(parsed.path)))


def workspace_of(listed: ListRootsResult | None, cwd: Path | None = None) -> Workspace:
    """The workspace the client declared (its `file://` roots), else the server's working directory."""
    roots = [path for path in (_path(str(root.uri)) for root in (listed.roots if listed else [])) if path]
    if roots:
        return Workspace.of(roots, "the client's MCP roots")
    return Workspace.of([cwd or Path.cwd()], "the server's working directory; the client declared no MCP roots")
