"""`route_and_complete` and `ask`: one request routed (or, dry, only decided), its provider and model pin checked."""

from __future__ import annotations

import dataclasses

from routing.fallback import ClientModel
from routing.results import DryRunResult, RouteResult
from routing.router import RouteRequest
from routing.streaming import Progress
from server.actions.switch import resolve_target
from server.wiring import App


async def route(
    app: App, request: RouteRequest, progress: Progress | None = None, client: ClientModel | None = None
) -> RouteResult | DryRunResult:
    """Route `request` (its `provider` may be an alias: moonshot -> kimi), or with `dry_run` only decide; `client`
    is the MCP client's own model, the last resort when no provider can serve (routing.fallback).

    Raises:
        ValueError: the pinned provider or model is not configured; the message lists the configured ones.
        RouteError: every candidate failed; the error lists the attempts.
    """
    provider, model = resolve_target(app, request.provider, request.model)
    request = dataclasses.replace(request, provider=provider, model=model)
    if request.dry_run:
        return await app.router.preview(request)
    return await app.router.route(request, progress=progress, client=client)
