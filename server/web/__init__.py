"""The web dashboard (`provider-router dashboard`): a local Starlette application over the shared database that
renders server.views (the CLI's own reports) as pages, live over server-sent events. Guarded by a random token,
a Host check and CSRF; no CDN, no Node build, no network."""

from server.web.app import create_app
from server.web.security import Secrets
from server.web.serve import bind, run_dashboard, server_for
from server.web.state import WebState

__all__ = ["Secrets", "WebState", "bind", "create_app", "run_dashboard", "server_for"]
