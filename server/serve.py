"""`provider-router serve`: the MCP server over stdio (stdout carries only the protocol, logs go to stderr).

Run as `provider-router serve` or `python -m server.serve`. Agents start it with a thin environment (often no
D-Bus address), so the session bus is located before the keychain is first used.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping

from providers.credentials import ensure_session_bus
from server.logging_setup import Redactor, configure_logging
from server.paths import Paths

LOG_LEVEL_ENV = "PROVIDER_ROUTER_LOG_LEVEL"


def run_serve(args: object = None, *, environ: MutableMapping[str, str] | None = None) -> int:
    """Serve MCP over stdio until the client closes the connection; returns the exit status.

    `args` (the CLI's parsed arguments) is accepted so this is a verb handler as it stands; serve takes none.
    """
    environ = environ if environ is not None else os.environ
    redactor = Redactor()
    level = environ.get(LOG_LEVEL_ENV, "INFO").upper()
    configure_logging(redactor, level if level in logging.getLevelNamesMapping() else "INFO")
    bus_note = ensure_session_bus(environ)
    if bus_note:
        logging.getLogger(__name__).info(bus_note)

    from server.mcp_server import build_server, default_app_factory

    snapshot = dict(environ)
    server = build_server(
        default_app_factory(snapshot, redactor),
        config_source=str(Paths.from_env(snapshot).config_file),
        refresh_listings=True,
    )
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(run_serve())
