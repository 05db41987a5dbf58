"""A loopback fake of a local model server's listing API (Ollama's `/api/tags`, LM Studio's `/v1/models`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import SocketAttribute, SocketStream

from providers.simulator.httpserver import Action, HttpRequest, Response, serve_connection

_JSON = (("content-type", "application/json"),)


def _listing(path: str, models: list[str]) -> bytes | None:
    if path == "/api/tags":
        return json.dumps({"models": [{"name": name, "model": name, "size": 1} for name in models]}).encode()
    if path == "/v1/models":
        return json.dumps({"object": "list", "data": [{"id": name, "object": "model"} for name in models]}).encode()
    return None


@asynccontextmanager
async def local_server(models: list[str]) -> AsyncIterator[str]:
    """A server on a free loopback port answering both listings with `models`; yields its root URL."""

    async def handle(request: HttpRequest) -> Action:
        body = _listing(request.path, models) if request.method == "GET" else None
        return Response(200, _JSON, body) if body is not None else Response(404, _JSON, b'{"error":"not found"}')

    async def connection(stream: SocketStream) -> None:
        await serve_connection(stream, handle)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = int(listener.extra(SocketAttribute.local_port))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, connection)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            tasks.cancel_scope.cancel()
    await listener.aclose()
