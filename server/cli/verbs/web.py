"""`provider-router dashboard [--host H] [--port N] [--no-open]`: the web dashboard (server.web)."""

from __future__ import annotations

import argparse
import errno
import os

from server.cli.common import UserError, cli_clock, cli_paths


def dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard until Ctrl-C; the first line on stdout is `Dashboard: URL?token=…`."""
    from server.web import run_dashboard

    if not 0 <= args.port <= 65535:
        raise UserError("--port must be 0-65535 (0: any free port)")
    try:
        run_dashboard(cli_paths(), dict(os.environ), cli_clock(), args.host, args.port, open_browser=not args.no_open)
    except OSError as error:
        where = f"cannot listen on {args.host}:{args.port} ({error.strerror})"
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise UserError(f"{where}; pick another --port, or --port 0 for any free one") from error
        raise UserError(
            f"{where}; --host {args.host} is not an address of this machine (the default is 127.0.0.1)"
        ) from error
    except KeyboardInterrupt:
        return 0
    return 0
