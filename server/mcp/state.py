"""The MCP server's state: the App its lifespan opened, or the problem that kept it from opening."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from providers.clock import Clock
from server.wiring import App, AppUnavailable
from storage import StoreLocked


@dataclass
class ServerState:
    """The lifespan's value: the App, or the problem that kept it from opening (naming the fix)."""

    app: App | None
    problem: str | None
    config_source: str
    clock: Clock
    #: opens the App again when another process's lock on router.db kept it from opening at start
    reopen: Callable[[], Awaitable[App]] | None = None
    _opening: anyio.Lock = field(default_factory=anyio.Lock)

    async def retry_open(self) -> None:
        """Open the App now if a lock kept it from opening at start and may have freed since."""
        if self._settled():  # the usual case: no lock to take (taking it yields to the event loop)
            return
        async with self._opening:  # one try at a time: the others then find it open (or still locked)
            if self.app is not None or self.reopen is None:
                return
            try:
                app = await self.reopen()
            except AppUnavailable as error:
                self.problem = str(error)
                if not isinstance(error.__cause__, StoreLocked):
                    self.reopen = None
                return
            self.app, self.problem, self.reopen = app, app.problem, None
            self.config_source, self.clock = str(app.paths.config_file), app.clock

    def _settled(self) -> bool:
        """Nothing to retry: the App is open, or there is no lock to wait out."""
        return self.app is not None or self.reopen is None

    def opened(self) -> App:
        """The App even when its configuration is broken (for status and preference edits).

        Raises:
            ToolError: the App could not be opened at all (e.g. a damaged database).
        """
        if self.app is None:
            raise ToolError(f"provider-router cannot serve: {self.problem}")
        return self.app

    def ready(self) -> App:
        """The App, with an edited providers.json picked up, when it can route.

        Raises:
            ToolError: nothing to route with; the message names the fix.
        """
        app = self.opened()
        try:
            app.require()
        except AppUnavailable as error:
            raise ToolError(f"provider-router cannot serve: {error}") from error
        return app


@dataclass
class Runtime:
    """Where static resources (which get no request context in the SDK) find the lifespan's state."""

    state: ServerState | None = field(default=None)

    def current(self) -> ServerState:
        if self.state is None:
            raise RuntimeError("the server is not running")
        return self.state
