"""`provider-router serve --http`: the MCP server over streamable HTTP for a team (server.mcp.http), on uvicorn.

The first line on stdout is `MCP: URL` (the socket already listens then); logs go to stderr. SIGTERM or Ctrl-C
stops it (uvicorn's own handling: calls in flight finish or are cancelled, the store is closed). TLS belongs to a
reverse proxy in front (Caddy, nginx…); `--certfile/--keyfile` make uvicorn serve HTTPS itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import MutableMapping

import anyio

from providers.credentials import ensure_session_bus
from server.config import Paths
from server.mcp.http import MCP_PATH, build_http_app, is_loopback
from server.mcp.serve import LOG_LEVEL_ENV
from server.mcp.server import AppFactory, default_app_factory
from server.wiring import AppUnavailable, Redactor, configure_logging
from storage.team import any_member_job

log = logging.getLogger(__name__)


class ServeRefused(Exception):
    """A configuration `serve --http` will not run with; the message names the fix."""


def run_serve_http(args: argparse.Namespace, *, environ: MutableMapping[str, str] | None = None) -> int:
    """Serve MCP over streamable HTTP until SIGTERM/Ctrl-C; returns the exit status (1: refused, with the fix)."""
    environ = environ if environ is not None else os.environ
    redactor = Redactor()
    snapshot = dict(environ)
    factory = default_app_factory(snapshot, redactor)
    host, port = str(args.host), int(args.port)
    try:
        tls = _tls(args.certfile, args.keyfile)
        if not is_loopback(host):
            anyio.run(_require_members, factory, host)
        sock = _listen(host, port)
    except ServeRefused as error:
        print(f"provider-router: {error}", file=sys.stderr)
        return 1
    level = environ.get(LOG_LEVEL_ENV, "INFO").upper()
    configure_logging(redactor, level if level in logging.getLevelNamesMapping() else "INFO")
    bus_note = ensure_session_bus(environ)
    if bus_note:
        log.info(bus_note)
    app = build_http_app(factory, host=host, config_source=str(Paths.from_env(snapshot).config_file))
    print(f"MCP: {_url(host, sock.getsockname()[1], tls=tls is not None)}", flush=True)
    import uvicorn

    certfile, keyfile = tls if tls is not None else (None, None)
    config = uvicorn.Config(app, log_config=None, log_level="warning", ssl_certfile=certfile, ssl_keyfile=keyfile,
                            timeout_graceful_shutdown=5)  # fmt: skip
    try:
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))
    except KeyboardInterrupt:
        return 130
    return 0


def _tls(certfile: str | None, keyfile: str | None) -> tuple[str, str] | None:
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise ServeRefused("--certfile and --keyfile go together: pass both (or neither, behind a TLS proxy)")
    for path in (certfile, keyfile):
        if not os.path.isfile(path):
            raise ServeRefused(f"{path} does not exist: pass the PEM files of the certificate and its key")
    return certfile, keyfile


async def _require_members(factory: AppFactory, host: str) -> None:
    """Refuse a non-loopback bind while no member (hence no token) is configured."""
    try:
        async with factory() as app:
            team = await app.store.read(any_member_job)
    except AppUnavailable as error:
        raise ServeRefused(str(error)) from error
    if not team:
        raise ServeRefused(
            f"refusing to serve on {host} with no team members: anyone who reaches it could spend on your accounts. "
            "Fix: `provider-router team add NAME` (each member then passes their token), or bind to 127.0.0.1"
        )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeRefused(
            f"cannot listen on {host}:{port} ({error.strerror}): pick another --port or --host"
        ) from error
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, *, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}{MCP_PATH}"
