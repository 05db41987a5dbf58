"""The MCP server: one lifespan opens the App (HTTP client, store, credentials, router); tools and resources read it.

A damaged database or a missing/broken providers.json never stops the server from starting: the lifespan then
carries the problem instead of (or beside) the App, `provider_status` reports it and every other tool answers
with it as a tool error that names the fix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from importlib import metadata

import anyio
from mcp.server.mcpserver import MCPServer

from providers.clock import system_clock
from providers.credentials import KeyringCredentials
from server.config import Paths
from server.mcp.identity import IdentifiedServer
from server.mcp.resources import register_resources
from server.mcp.state import Runtime, ServerState
from server.mcp.tools import register_tools
from server.wiring import App, AppUnavailable, RedactingCredentials, Redactor, housekeeping, open_app
from storage import StoreLocked

log = logging.getLogger(__name__)

NAME = "provider-router"
VERSION = metadata.version("provider-router")

INSTRUCTIONS = """\
provider-router hands a self-contained sub-task to the cheapest capable model among the user's providers and \
accounts, failing over when one is rate-limited, out of quota or down. Call `route_and_complete`.

Delegate when the task is self-contained and checkable and a cheaper model does about as well: bulk or \
mechanical edits described fully in the prompt, summaries of long logs/diffs/documents you paste in, first \
drafts (docstrings, commit messages, release notes), unit tests for code you include, translating code, \
reading a very long context (`quality: "max_context"`). Do it yourself when the edit is small, needs your own \
tools or workspace, or depends on context you would have to copy whole: the other model sees only what you send.

How to call: put everything needed in `prompt` (or `messages`), standing rules in `system`. \
Never paste a file: name it in `files` (paths or globs in your workspace; the server reads them, so the call \
costs you only the paths) and images in `images` (`line_numbers: true` numbers the lines). \
`task_type`: coding | reasoning | creative | simple (inferred when omitted). \
`quality`: max_speed | balanced (default) | max_quality | max_context. \
`budget_mode`: free_only (spend nothing) | cost_first | quality_first; `max_cost_usd` caps one call. \
Pass the `conversation_id` of a previous result to continue that thread; omit it for an unrelated task. \
`dry_run: true` shows which provider/model would serve and why, without calling any. \
`json_schema` (a JSON Schema) gets an answer validated against it, parsed in the result's `json`.

Reading the result: the text is the answer (review it before use), followed by one line saying where it was \
routed, why (preference, limit, cost, context, quality, latency, sticky, manual, failover), what it cost and the \
conversation id. If every provider fails, the error lists the attempts and names the fix: tell the user and do \
the task yourself. `provider_status` and `quota_report` show health and quotas; `set_preference` and \
`switch_provider` change routing only when the user asks."""

AppFactory = Callable[[], AbstractAsyncContextManager[App]]


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
    """Keep the model listings fresh in the background (server.wiring.listings), cancelled when the server stops."""
    from server.wiring import background_refresher

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
    runtime: Runtime | None = None,
) -> MCPServer[ServerState]:
    """The MCP server with its five tools and five resources, opening its App through `factory` when it starts.

    `config_source` names the configuration in messages when the App cannot be opened at all. `preload_tokenizer`
    loads the tokenizer in the background at start (otherwise the first routed request loads it).
    `refresh_listings` refreshes stale model listings in the background (`provider-router serve` turns it on).
    `runtime` receives the lifespan's state (the HTTP transport's token gate reads the store through it). Tool
    calls and resource reads run as the caller's team member (server.mcp.identity).
    """
    runtime = runtime if runtime is not None else Runtime()
    server: MCPServer[ServerState] = IdentifiedServer(
        NAME,
        version=VERSION,
        instructions=INSTRUCTIONS,
        lifespan=_lifespan(factory, runtime, config_source, preload_tokenizer, refresh_listings),
    )
    register_tools(server)
    register_resources(server, runtime)
    return server
