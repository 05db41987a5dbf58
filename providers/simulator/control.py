"""`/_sim/...`: drive a simulator in another process over HTTP (scripts, outages, counters)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from providers.simulator.calls import parse_json
from providers.simulator.httpserver import HttpRequest, Response
from providers.simulator.routes import json_response, not_found
from providers.simulator.spec import AccountStats, AnyFault, SimAccount, SimRequest, SimSpec


class Simulator(Protocol):
    """What the control routes drive (providers/simulator/core.py's `Simulator`), declared here to avoid a cycle."""

    spec: SimSpec

    def script(self, account_id: str, faults: Sequence[AnyFault | None]) -> None: ...

    def set_down(self, account_id: str, fault: AnyFault | None) -> None: ...

    def configure(self, account_id: str, **changes: Any) -> SimAccount: ...

    def requests(self, account_id: str) -> list[SimRequest]: ...

    def stats(self, account_id: str) -> AccountStats: ...

    def reset_counters(self, account_id: str | None = None) -> None: ...


_SCRIPT = TypeAdapter(list[AnyFault | None])
_FAULT = TypeAdapter(AnyFault | None)

CONTROL_HELP = {
    "GET /_sim/health": "the account ids",
    "POST /_sim/reset": "reset_counters() for every account",
    "POST /_sim/{account}/script": "body: a JSON list of faults or nulls",
    "POST /_sim/{account}/down": "body: a fault, or null to clear",
    "POST /_sim/{account}/configure": "body: an object of SimAccount fields to change",
    "GET /_sim/{account}/stats": "requests, succeeded, failed",
    "GET /_sim/{account}/requests": "the requests received, credentials redacted",
}


def _account_command(sim: Simulator, account: str, command: str, body: Any) -> Any:
    if command == "script":
        sim.script(account, _SCRIPT.validate_python(body))
    elif command == "down":
        sim.set_down(account, _FAULT.validate_python(body))
    elif command == "configure":
        return sim.configure(account, **body).model_dump()
    elif command == "stats":
        return dataclasses.asdict(sim.stats(account))
    elif command == "requests":
        return [dataclasses.asdict(request) for request in sim.requests(account)]
    else:
        raise LookupError(command)
    return {"ok": True}


def control_response(sim: Simulator, request: HttpRequest, rest: str) -> Response:
    """Answer one control request; `rest` is the path after `/_sim/`."""
    if rest == "health":
        return json_response(200, {"accounts": [account.id for account in sim.spec.accounts]})
    if rest == "reset" and request.method == "POST":
        sim.reset_counters()
        return json_response(200, {"ok": True})
    account, _, command = rest.partition("/")
    body = parse_json(request.body) if request.body else None
    try:
        return json_response(200, _account_command(sim, account, command, body))
    except (ValidationError, TypeError) as error:
        return json_response(400, {"error": {"message": str(error), "type": "invalid_request"}})
    except LookupError:
        return not_found(f"no control command {request.method} /_sim/{rest}; try {CONTROL_HELP}")
