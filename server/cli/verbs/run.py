"""Verbs that run something bigger than one call: `serve`, `install`, `setup`, `doctor`, `demo`.

Each imports its module only when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from server.cli.common import cli_clock


def serve(args: argparse.Namespace) -> int:
    """The MCP server on stdio (server.mcp.serve), or over streamable HTTP with --http (server.mcp.serve_http);
    imported here so other verbs never load the MCP SDK."""
    if getattr(args, "http", False):
        from server.mcp.serve_http import run_serve_http

        return run_serve_http(args)
    from server.mcp.serve import run_serve

    return run_serve()


def install(args: argparse.Namespace) -> int:
    """Register this installation's `provider-router serve` in CLIENT's MCP config."""
    from server.cli.install import default_server_command, run_install

    return run_install(
        args.client,
        scope=args.scope,
        dry_run=args.dry_run,
        home=Path(os.environ.get("HOME") or Path.home()),
        cwd=Path.cwd(),
        command=default_server_command(),
        platform=sys.platform,
        out=sys.stdout,
        err=sys.stderr,
        instructions=args.instructions,
        now=cli_clock()().astimezone(),
        url=args.url,
        token=args.token,
    )


def setup(args: argparse.Namespace) -> int:
    """The interactive first run (server.cli.setup_wizard)."""
    from server.cli.setup_wizard import run_setup

    return run_setup(args, clock=cli_clock())


def doctor(args: argparse.Namespace) -> int:
    """Check everything a request depends on (server.cli.doctor)."""
    from server.cli.doctor import run_doctor

    return run_doctor(offline=args.offline, as_json=args.json)


def demo(args: argparse.Namespace) -> int:
    """The one-minute tour on the simulator (server.cli.demo)."""
    from server.cli.demo import run_demo

    return run_demo(as_json=args.json)
