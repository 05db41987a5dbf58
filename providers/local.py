"""Local model servers on this machine: Ollama and LM Studio, found by asking each for its own model listing.

    Ollama     GET {url}/api/tags    `models[].name`    default http://127.0.0.1:11434
                                                         (PROVIDER_ROUTER_OLLAMA_URL, else OLLAMA_HOST)
    LM Studio  GET {url}/v1/models   `data[].id`        default http://127.0.0.1:1234 (PROVIDER_ROUTER_LMSTUDIO_URL)

A server that does not answer quickly is simply not running: detection never fails, it finds nothing. Both speak
the OpenAI-compatible wire at `{url}/v1` and take no key; a local model costs nothing (a free candidate).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2

#: a local server answers its listing at once; longer means it is not there
DETECT_TIMEOUT_S = 1.5
#: a listing larger than this is not a local server's
MAX_LISTING_BYTES = 4 * 2**20


@dataclass(frozen=True)
class LocalServer:
    """One kind of local server: the provider id it is configured under, where it listens, how it lists models."""

    provider: str
    label: str
    default_url: str
    listing_path: str
    env: tuple[str, ...]

    def url(self, environ: Mapping[str, str]) -> str:
        """Where it listens: the first of its environment variables that is set, else its default."""
        for name in self.env:
            value = environ.get(name, "").strip()
            if value:
                return _with_scheme(value).rstrip("/")
        return self.default_url

    def models(self, data: Any) -> list[str]:
        """The model ids a listing names (Ollama: `models[].name`; OpenAI-compatible: `data[].id`)."""
        key, field = ("models", "name") if self.listing_path == "/api/tags" else ("data", "id")
        entries = data.get(key) if isinstance(data, dict) else None
        names = [entry.get(field) for entry in entries or [] if isinstance(entry, dict)]
        return sorted({name for name in names if isinstance(name, str) and name})


OLLAMA = LocalServer(
    "ollama", "Ollama", "http://127.0.0.1:11434", "/api/tags", ("PROVIDER_ROUTER_OLLAMA_URL", "OLLAMA_HOST")
)
LMSTUDIO = LocalServer(
    "lmstudio", "LM Studio", "http://127.0.0.1:1234", "/v1/models", ("PROVIDER_ROUTER_LMSTUDIO_URL",)
)
LOCAL_SERVERS = (OLLAMA, LMSTUDIO)


@dataclass(frozen=True)
class Detected:
    """A local server that answered: where, and the models it lists (its own listing, as it is now)."""

    server: LocalServer
    url: str
    models: tuple[str, ...]

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL a provider entry uses."""
        return f"{self.url}/v1"


def looked_for(environ: Mapping[str, str]) -> str:
    """Where detection looks, for a message that found nothing."""
    return ", ".join(f"{server.label} on {server.url(environ)}" for server in LOCAL_SERVERS)


async def detect(http: httpx2.AsyncClient, environ: Mapping[str, str]) -> list[Detected]:
    """The local servers running now, each with its models (both asked at once; none found is an empty list)."""
    found: dict[str, Detected] = {}

    async def probe(server: LocalServer) -> None:
        detected = await detect_one(http, server, server.url(environ))
        if detected is not None:
            found[server.provider] = detected

    async with anyio.create_task_group() as tasks:
        for server in LOCAL_SERVERS:
            tasks.start_soon(probe, server)
    return [found[s.provider] for s in LOCAL_SERVERS if s.provider in found]


async def detect_one(http: httpx2.AsyncClient, server: LocalServer, url: str) -> Detected | None:
    """`server` at `url` with its models, or None when nothing there answers its listing."""
    try:
        with anyio.fail_after(DETECT_TIMEOUT_S):
            response = await http.get(f"{url}{server.listing_path}", timeout=DETECT_TIMEOUT_S)
            body = response.content
    except (TimeoutError, httpx2.HTTPError, OSError):
        return None
    if response.status_code != 200 or len(body) > MAX_LISTING_BYTES:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return Detected(server, url, tuple(server.models(data)))


def _with_scheme(value: str) -> str:
    """OLLAMA_HOST is often `host:port` or `0.0.0.0:11434` (a bind address): as a URL to reach it."""
    url = value if "://" in value else f"http://{value}"
    return url.replace("://0.0.0.0", "://127.0.0.1")
