"""The dashboard's Starlette application: pages, the live stream (SSE from the database), actions, static files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.views import ReportPeriod
from server.web.html import esc
from server.web.layout import page
from server.web.pages import actions, overview, reports, routing
from server.web.security import WILDCARDS, Guard, allowed_hosts, cookie_for, csrf_ok, same_origin
from server.web.state import REDRAW_POLLS, NoDatabase, WebState, trouble
from server.wiring import App, AppUnavailable
from storage import Analytics, StoreError

STATIC = Path(__file__).parent / "static"
Body = Callable[[App], Awaitable[str]]


def empty_state(state: WebState) -> str:
    return (
        '<div class="empty" id="empty">'
        f"<p>No database yet at <code>{esc(state.paths.db_file)}</code>: nothing has been routed on this machine.</p>"
        "<ol><li>Run <code>provider-router setup</code> to choose providers (or <code>provider-router demo</code> "
        "to see it work on simulated ones).</li>"
        "<li>Register it with an agent: <code>provider-router install claude-code</code>, or send one prompt: "
        '<code>provider-router ask "hello"</code>.</li>'
        "<li>This page fills in by itself as soon as the first request is routed.</li></ol></div>"
        '<div id="live" data-empty="1"></div>'
    )


async def render(state: WebState, title: str, active: str, body: Body, *, notice: str | None = None) -> Response:
    """A page, or the empty state (no database yet), or a banner (the database is locked or broken)."""
    try:
        app = await state.app()
        return HTMLResponse(page(title, await body(app), active=active, notice=notice))
    except NoDatabase:
        return HTMLResponse(page(title, empty_state(state), active=active))
    except (StoreError, AppUnavailable) as error:
        return HTMLResponse(page(title, "", active=active, banner=trouble(error)), status_code=503)


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


async def overview_page(request: Request) -> Response:
    state = _state(request)

    async def body(app: App) -> str:
        return await overview.live(app) + await actions.forms(app, state.secret.csrf)

    notice = request.query_params.get("done")
    return await render(state, "Overview", "/", body, notice=notice)


async def routing_page(request: Request) -> Response:
    return await render(_state(request), "Routing", "/routing", lambda app: routing.stream(app, request.query_params))


#: the largest id SQLite stores (a larger one in the address names no decision)
MAX_ID = 2**63 - 1


async def decision_page(request: Request) -> Response:
    decision_id = int(request.path_params["id"])
    missing = False

    async def body(app: App) -> str:
        nonlocal missing
        found = await routing.decision(app, decision_id) if decision_id <= MAX_ID else None
        missing = found is None
        return found or f"<p class='muted'>No decision #{decision_id} (it may be older than the retention).</p>"

    response = await render(_state(request), f"Decision #{decision_id}", "/routing", body)
    if missing:
        response.status_code = 404
    return response


def _report(title: str, path: str, default: ReportPeriod, build: Callable[..., Awaitable[str]]) -> Route:
    async def endpoint(request: Request) -> Response:
        period = reports.period_of(request.query_params.get("period"), default)
        member = request.query_params.get("member") or None
        return await render(_state(request), title, path, lambda app: build(app, period, member))

    return Route(path, endpoint)


async def action(request: Request) -> Response:
    state = _state(request)
    name = request.path_params["name"]
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if name not in actions.ACTIONS:
        return HTMLResponse(page("Unknown action", "", active="/", banner=f"No action {name!r}."), status_code=404)
    if not same_origin(request):
        banner = "Refused: this action came from another site (its Origin is not this dashboard)."
        return HTMLResponse(page("Refused", "", active="/", banner=banner), status_code=403)
    if not csrf_ok(request, fields.get("csrf"), state.secret):
        return HTMLResponse(page("Refused", "", active="/", banner="Refused: this form lacks its CSRF token. "
                                 "Reload the dashboard and try again."), status_code=403)  # fmt: skip
    if fields.get("confirm") != "yes":
        return HTMLResponse(page("Confirm", actions.confirmation(name, fields, state.secret.csrf), active="/"))
    try:
        app = await state.app()
        message = await actions.perform(app, name, fields)
    except NoDatabase:
        return HTMLResponse(page("Nothing to change", empty_state(state), active="/"), status_code=409)
    except (StoreError, AppUnavailable) as error:
        return HTMLResponse(page("Not done", "", active="/", banner=trouble(error)), status_code=503)
    except ValueError as error:
        return HTMLResponse(page("Not done", "", active="/", banner=str(error)), status_code=400)
    return RedirectResponse("/?" + urlencode({"done": message}), status_code=303)


async def _frames(state: WebState, request: Request) -> AsyncIterator[str]:
    """The overview's live part, sent again whenever the database shows a new decision, attempt or switch."""
    last = None
    polls = 0
    while not state.closing and not await request.is_disconnected():
        try:
            app = await state.app()
            mark = await Analytics(app.store).watermark()
            if mark != last or polls >= REDRAW_POLLS:
                last, polls = mark, 0
                yield f"event: overview\ndata: {json.dumps({'html': await overview.live(app)})}\n\n"
        except NoDatabase:
            yield "event: waiting\ndata: {}\n\n"
        except (StoreError, AppUnavailable) as error:
            yield f"event: trouble\ndata: {json.dumps({'banner': trouble(error)})}\n\n"
        polls += 1
        await anyio.sleep(state.poll_s)


async def events(request: Request) -> Response:
    headers = {"x-accel-buffering": "no"}
    return StreamingResponse(_frames(_state(request), request), media_type="text/event-stream", headers=headers)


async def no_such_page(request: Request, error: Exception) -> Response:
    """An address that is no page (or a method it does not take): the dashboard's frame, with its navigation."""
    status = error.status_code if isinstance(error, HTTPException) else 404
    body = (
        f"<p>Nothing here at <code>{esc(request.url.path)}</code>. Pick a page above; a decision's page is "
        "<code>/routing/ID</code> with a number from the <a href='/routing'>routing</a> stream.</p>"
    )
    return HTMLResponse(page("No such page", body, active=""), status_code=status)


async def went_wrong(request: Request, error: Exception) -> Response:
    """The last resort: a page naming what failed, never a stack trace."""
    banner = f"{trouble(error)}. Reload to try again; if it persists, run `provider-router doctor`."
    return HTMLResponse(page("Something went wrong", "", active="", banner=banner), status_code=500)


def create_app(state: WebState, host: str, port: int) -> Starlette:
    """The dashboard over `state` for a server bound to host:port (the only Host header it answers)."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.close()

    routes = [
        Route("/", overview_page),
        Route("/routing", routing_page),
        Route("/routing/{id:int}", decision_page),
        _report("Costs", "/costs", "month", reports.costs),
        _report("Performance", "/performance", "day", reports.performance),
        _report("Flow", "/flow", "day", reports.flow_page),
        Route("/events", events),
        Route("/actions/{name}", action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Guard,
                secret=state.secret,
                hosts=allowed_hosts(host, port),
                any_address=host in WILDCARDS,
                cookie=cookie_for(port),
            )
        ],
        lifespan=lifespan,
        exception_handlers={404: no_such_page, 405: no_such_page, Exception: went_wrong},
    )
    app.state.web = state
    return app
