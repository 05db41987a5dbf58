"""`python -m server.serve`: the MCP server on stdio (kept for the clients and scripts that start it so)."""

import sys

from server.mcp.serve import run_serve

if __name__ == "__main__":
    sys.exit(run_serve())
