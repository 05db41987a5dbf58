"""Replay recorded provider HTTP interactions (vcrpy cassettes, both layouts) through `httpx2.MockTransport`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
import yaml

CASSETTES = Path(__file__).parent / "fixtures" / "cassettes"
_DROPPED_RESPONSE_HEADERS = {"content-length", "transfer-encoding"}


@dataclass(frozen=True)
class Interaction:
    method: str
    uri: str
    request_body: Any
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def is_stream(self) -> bool:
        body = self.request_body
        return ("streamGenerateContent" in self.uri) or (isinstance(body, dict) and bool(body.get("stream")))


def _request_body(request: dict[str, Any]) -> Any:
    if "parsed_body" in request:
        return request["parsed_body"]
    body = request.get("body")
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        body = body.decode()
    if not body:
        return None
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body


def _response_body(response: dict[str, Any]) -> bytes:
    if "parsed_body" in response:
        return json.dumps(response["parsed_body"]).encode()
    body = response.get("body", {})
    raw = body.get("string", b"") if isinstance(body, dict) else body
    return raw if isinstance(raw, bytes) else str(raw).encode()


def load_cassette(path: Path) -> list[Interaction]:
    data = cast(dict[str, Any], yaml.safe_load(path.read_text()))
    interactions: list[Interaction] = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        headers = [
            (name, str(value))
            for name, values in (response.get("headers") or {}).items()
            if name.lower() not in _DROPPED_RESPONSE_HEADERS
            for value in (values if isinstance(values, list) else [values])
        ]
        interactions.append(
            Interaction(
                method=request["method"],
                uri=request["uri"],
                request_body=_request_body(request),
                status=int(response["status"]["code"]),
                headers=headers,
                body=_response_body(response),
            )
        )
    return interactions


@dataclass
class Replay:
    """Serves a cassette's responses in order and keeps the requests the adapter sent."""

    interactions: list[Interaction]
    sent: list[httpx2.Request] = field(default_factory=list[httpx2.Request])

    def __post_init__(self) -> None:
        self._next: Iterator[Interaction] = iter(self.interactions)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request)
        recorded = next(self._next)
        return httpx2.Response(recorded.status, headers=recorded.headers, content=recorded.body)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    def sent_json(self, index: int = -1) -> Any:
        return json.loads(self.sent[index].content)


def all_cassettes() -> list[Path]:
    return sorted(CASSETTES.rglob("*.yaml"))
