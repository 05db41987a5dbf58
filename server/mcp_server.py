"""The MCP server: one lifespan opens the App (HTTP client, store, credentials, router); tools and resources read it.

A damaged database or a missing/broken providers.json never stops the server from starting: the lifespan then
carries the problem instead of (or beside) the App, `provider_status` reports it and every other tool answers
with it as a tool error that names the fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from providers.clock import Clock, system_clock
from providers.credentials import KeyringCredentials
from server.app import App, AppUnavailable, open_app
from server.logging_setup import RedactingCredentials, Redactor
from server.maintenance import housekeeping
from server.paths import Paths
from storage import StoreLocked

log = logging.getLogger(__name__)

NAME = "provider-router"
VERSION = "0.1.0"

INSTRUCTIONS = """\
provider-router hands a self-contained sub-task to the cheapest capable model among the user's providers and \
accounts, failing over when one is rate-limited, out of quota or down. Call `route_and_complete`.

Delegate when the task is self-contained and checkable and a cheaper model does about as well: bulk or \
mechanical edits described fully in the prompt, summaries of long logs/diffs/documents you paste in, first \
drafts (docstrings, commit messages, release notes), unit tests for code you include, translating code, \
reading a very long context (`quality: "max_context"`). Do it yourself when the edit is small, needs your own \
tools or workspace, or depends on context you would have to copy whole: the other model sees only what you send.

How to call: put everything needed in `prompt` (or `messages`), standing rules in `system`. \
`task_type`: coding | reasoning | creative | simple (inferred when omitted). \
`quality`: max_speed | balanced (default) | max_quality | max_context. \
`budget_mode`: free_only (spend nothing) | cost_first | quality_first; `max_cost_usd` caps one call. \
Pass the `conversation_id` of a previous result to continue that thread; omit it for an unrelated task. \
`dry_run: true` shows which provider/model would serve and why, without calling any.

Reading the result: the text is the answer (review it before use), followed by one line saying where it was \
routed, why (preference, limit, cost, context, quality, latency, sticky, manual, failover), what it cost and the \
conversation id. If every provider fails, the error lists the attempts and names the fix: tell the user and do \
the task yourself. `provider_status` and `quota_report` show health and quotas; `set_preference` and \
`switch_provider` change routing only when the user asks."""

AppFactory = Callable[[], AbstractAsyncContextManager[App]]


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


def default_app_factory(environ: Mapping[str, str], redactor: Redactor) -> AppFactory:
    """Open the App of the user's home (PROVIDER_ROUTER_HOME or the platform's config dir) with key redaction."""

    def factory() -> AbstractAsyncContextManager[App]:
        credentials = RedactingCredentials(KeyringCredentials(environ), redactor)
        return open_app(Paths.from_env(environ), environ, clock=system_clock, credentials=credentials)

    return factory


def _preload_tokenizer() -> None:
    """Load the tokenizer in the background (opt-in: the router loads it on its first request, off the event loop;
    loading at start-up costs ~70 MB of memory in every idle server)."""

    def load() -> None:
        from routing.tokens import preload

        try:
            preload()
        except Exception:  # a failed load only makes the estimates coarser (see routing.tokens)
            log.warning("tokenizer preload failed; estimates fall back to a byte count", exc_info=True)

    threading.Thread(target=load, name="tokenizer-preload", daemon=True).start()


async def _start_listing_refresher(stack: AsyncExitStack, app: App) -> None:
    """Keep the model listings fresh in the background (server.listings), cancelled when the server stops."""
    from server.listings import background_refresher

    tasks = await stack.enter_async_context(anyio.create_task_group())
    stack.callback(tasks.cancel_scope.cancel)
    tasks.start_soon(background_refresher, app)


def _lifespan(
    factory: AppFactory, runtime: Runtime, config_source: str, preload: bool, refresh_listings: bool
) -> Callable[[MCPServer[ServerState]], AbstractAsyncContextManager[ServerState]]:
    @asynccontextmanager
    async def lifespan(_server: MCPServer[ServerState]) -> AsyncIterator[ServerState]:
        async with AsyncExitStack() as stack:
            locked = False
            try:
                app: App | None = await stack.enter_async_context(factory())
                problem = app.problem if app else None
            except AppUnavailable as error:
                app, problem = None, str(error)
                locked = isinstance(error.__cause__, StoreLocked)
            if problem:
                log.warning("starting without a usable router: %s", problem)
            if app is not None:
                background = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(background.cancel_scope.cancel)
                background.start_soon(
                    housekeeping, app.store, lambda: app.decisions, lambda: app.config.settings, app.clock
                )
            if preload:
                _preload_tokenizer()
            if refresh_listings and app is not None:
                await _start_listing_refresher(stack, app)
            state = ServerState(
                app=app,
                problem=problem,
                config_source=str(app.paths.config_file) if app else config_source,
                clock=app.clock if app else system_clock,
                reopen=(lambda: stack.enter_async_context(factory())) if locked else None,
            )
            runtime.state = state
            try:
                yield state
            finally:
                runtime.state = None

    return lifespan


def build_server(
    factory: AppFactory,
    *,
    config_source: str = "providers.json",
    preload_tokenizer: bool = False,
    refresh_listings: bool = False,
) -> MCPServer[ServerState]:
    """The MCP server with its five tools and five resources, opening its App through `factory` when it starts.

    `config_source` names the configuration in messages when the App cannot be opened at all. `preload_tokenizer`
    loads the tokenizer in the background at start (otherwise the first routed request loads it).
    `refresh_listings` refreshes stale model listings in the background (`provider-router serve` turns it on).
    """
    from server.resources import register_resources
    from server.tools import register_tools

    runtime = Runtime()
    server: MCPServer[ServerState] = MCPServer(
        NAME,
        version=VERSION,
        instructions=INSTRUCTIONS,
        lifespan=_lifespan(factory, runtime, config_source, preload_tokenizer, refresh_listings),
    )
    register_tools(server)
    register_resources(server, runtime)
    return server
