"""The floor for the MCP benchmarks: a bare MCPServer whose one tool makes the direct httpx2 call.

The call is the one our adapter makes (streamed, usage included; part 2's floor) and the answer is put together
from the stream's deltas, so ours − bare is the router and our MCP surface, not streaming against one JSON body.
`python -m bench.bare_mcp` serves over stdio; BENCH_SIM_URL (an OpenAI base URL) and BENCH_SIM_KEY say where to call.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx2
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

_client: httpx2.AsyncClient | None = None


@asynccontextmanager
async def lifespan(_server: MCPServer) -> AsyncIterator[None]:
    global _client
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # no line per request on stderr
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(60.0)) as client:
        _client = client
        yield
        _client = None


server = MCPServer("bare", version="0.0.1", lifespan=lifespan)


class Answer(BaseModel):
    text: str


@server.tool()
async def complete(prompt: Annotated[str, Field(description="what to ask")]) -> Answer:
    """Send `prompt` straight to the one configured endpoint."""
    assert _client is not None
    url = os.environ["BENCH_SIM_URL"] + "/chat/completions"
    body = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 256,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"authorization": f"Bearer {os.environ['BENCH_SIM_KEY']}"}
    async with _client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        return Answer(text="".join([part async for part in _deltas(response)]))


async def _deltas(response: httpx2.Response) -> AsyncIterator[str]:
    """The answer's pieces, one per `data:` event that carries content."""
    async for line in response.aiter_lines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for choice in json.loads(line[6:]).get("choices") or ():
            if content := (choice.get("delta") or {}).get("content"):
                yield content


if __name__ == "__main__":
    server.run()
