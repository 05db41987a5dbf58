"""`provider-router dashboard`: bind 127.0.0.1 (or --host), print `Dashboard: URL?token=…` first, open a browser,
serve until Ctrl-C."""

from __future__ import annotations

import socket
import sys
import webbrowser
from collections.abc import Mapping

import uvicorn

from providers.clock import Clock
from server.config import Paths
from server.web.app import create_app
from server.web.security import Secrets
from server.web.state import WebState


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(host: str, port: int, secret: Secrets) -> str:
    """The address to open: a wildcard bind (0.0.0.0, ::) is opened on loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host) or (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/?token={secret.token}"


def server_for(
    paths: Paths, environ: Mapping[str, str], clock: Clock, sock: socket.socket, *, poll_s: float | None = None
) -> tuple[uvicorn.Server, str]:
    """A uvicorn server of the dashboard on `sock` (not started) and the URL that opens it."""
    host, port = sock.getsockname()[:2]
    secret = Secrets.new()
    state = WebState(paths, environ, clock, secret)
    if poll_s is not None:
        state.poll_s = poll_s
    config = uvicorn.Config(
        create_app(state, host, port), log_level="warning", access_log=False, timeout_graceful_shutdown=1,
        lifespan="on",
    )  # fmt: skip
    return uvicorn.Server(config), url_of(host, port, secret)


def run_dashboard(
    paths: Paths, environ: Mapping[str, str], clock: Clock, host: str, port: int, *, open_browser: bool
) -> None:
    """Serve until interrupted; the first line on stdout is `Dashboard: URL`."""
    sock = bind(host, port)
    server, url = server_for(paths, environ, clock, sock)
    print(f"Dashboard: {url}", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Listening on {host}: anyone who can reach it and has the token can see and change routing.",
              file=sys.stderr, flush=True)  # fmt: skip
    print("Press Ctrl-C to stop.", file=sys.stderr, flush=True)
    if open_browser:
        webbrowser.open(url)
    server.run(sockets=[sock])
