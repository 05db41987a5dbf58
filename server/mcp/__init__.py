"""The MCP surface: the server (lifespan, instructions), its state, the five tools and the five resources.
`run_serve` runs it on stdio."""

from server.mcp.serve import run_serve
from server.mcp.server import build_server, default_app_factory
from server.mcp.state import ServerState

__all__ = [
    "ServerState",
    "build_server",
    "default_app_factory",
    "run_serve",
]
