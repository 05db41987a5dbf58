"""The five MCP resources (README "How an agent uses it"), all application/json: no key (only where it lives), no
prompt unless the user enabled `settings.logPrompts`."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import BaseModel

from server import views
from server.config import redacted_view
from server.mcp.state import Runtime, ServerState
from server.wiring import App

JSON = "application/json"
RECENT_DECISIONS = 50
#: decision ids are SQLite rowids: digits only, and no more than fit in 63 bits
_MAX_ID_DIGITS = 18


def _json(model: BaseModel) -> str:
    return model.model_dump_json(indent=2)


def _app(runtime: Runtime) -> App:
    state = runtime.current()
    if state.app is None:
        raise ResourceError(f"provider-router cannot serve: {state.problem}")
    return state.app


def config_document(state: ServerState) -> dict[str, Any]:
    """The redacted configuration in force, with what stops routing (if anything) and its fix."""
    app = state.app
    if app is None:
        return {"source": state.config_source, "problem": state.problem}
    app.refresh()
    return {**redacted_view(app.config), "problem": app.problem}


def register_resources(server: MCPServer[ServerState], runtime: Runtime) -> None:
    """Add the five resources to `server`; static resources reach the lifespan's state through `runtime`."""

    @server.resource("router://decisions", name="decisions", mime_type=JSON, description="Recent routing decisions")
    async def decisions() -> str:
        return _json(await views.decision_log(_app(runtime), RECENT_DECISIONS))

    @server.resource(
        "router://decisions/{id}",
        name="decision",
        mime_type=JSON,
        description="One decision: candidates with scores, exclusions with their filter, attempts",
    )
    async def decision(id: str) -> str:
        # ASCII only: str.isdigit() also accepts '²' (which int() refuses) and fullwidth digits (an alias of another id)
        if not (id.isascii() and id.isdigit()) or len(id) > _MAX_ID_DIGITS:
            raise ResourceNotFoundError(f"no decision {id[:40]!r}: a decision id is a number (see router://decisions)")
        found = await views.decision_detail(_app(runtime), int(id))
        if found is None:
            raise ResourceNotFoundError(f"no decision {id} (it may be older than the retention period)")
        return _json(found)

    @server.resource("router://metrics", name="metrics", mime_type=JSON, description="Requests, tokens, cost, latency")
    async def metrics() -> str:
        return _json(await views.metrics_report(_app(runtime)))

    @server.resource("router://providers", name="providers", mime_type=JSON, description="Providers, models, health")
    async def providers() -> str:
        return _json(await views.providers_view(_app(runtime)))

    @server.resource("router://config", name="config", mime_type=JSON, description="The configuration, redacted")
    async def config() -> str:
        return json.dumps(config_document(runtime.current()), indent=2)
