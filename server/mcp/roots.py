"""The client's workspace: the MCP roots it declares, else the server's working directory.

The roots are asked for (`roots/list`, through the SDK's `ListRoots` resolver, which speaks both protocol eras)
on every call that attaches files or images, so a client's changed roots (`notifications/roots/list_changed`)
are always the ones in force; a call without attachments asks nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from mcp.server.mcpserver import Context, ListRoots
from mcp.types import ListRootsResult

from server.workspace import Workspace


def client_roots(ctx: Context[Any], files: list[str] | None, images: list[str] | None) -> ListRoots | None:
    """A resolver: ask the client for its roots when the call attaches something and the client has roots."""
    if not files and not images:
        return None
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return None
    return ListRoots()


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
