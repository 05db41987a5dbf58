"""The dashboard's hold on the shared database: the App opened once router.db exists (never created by looking),
closed with the server; a locked or busy database becomes a banner, not a stack trace."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio

from providers.clock import Clock
from server.config import Paths
from server.web.security import Secrets
from server.wiring import App, AppUnavailable, open_app
from server.wiring.app import configured_database
from storage import StoreError, StoreLocked

#: seconds between two looks at the database by the live overview
POLL_S = 1.0
#: the overview is redrawn at least this often (countdowns move), in polls
REDRAW_POLLS = 10


class NoDatabase(Exception):
    """router.db does not exist yet: the page says what to do instead."""


@dataclass
class WebState:
    """What every request of one dashboard run shares."""

    paths: Paths
    environ: Mapping[str, str]
    clock: Clock
    secret: Secrets
    poll_s: float = POLL_S
    _app: App | None = None
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _lock: anyio.Lock = field(default_factory=anyio.Lock)
    closing: bool = False

    async def app(self) -> App:
        """The App over the shared database, opened on first need.

        Raises:
            NoDatabase: there is no router.db yet.
            AppUnavailable: the database cannot be opened (damaged, locked, too new).
        """
        async with self._lock:
            if self._app is None:
                database = configured_database(self.paths, self.environ, self.clock().date())
                if database.path is not None and not database.path.exists():  # PostgreSQL's always exists
                    raise NoDatabase(str(database.path))
                self._app = await self._stack.enter_async_context(open_app(self.paths, self.environ, clock=self.clock))
            self._app.refresh()
            return self._app

    async def close(self) -> None:
        self.closing = True
        await self._stack.aclose()
        self._app = None


def trouble(error: Exception) -> str:
    """The banner for a database that cannot be read right now."""
    if isinstance(error, StoreLocked) or isinstance(error.__cause__, StoreLocked):
        return "The database is busy (another process holds it locked); this page retries on its own."
    if isinstance(error, StoreError | AppUnavailable):
        return f"The database cannot be read right now: {error}"
    return f"Something went wrong reading the database: {type(error).__name__}"
