"""Local model servers are found by their own listings on loopback; nothing listening is simply nothing found."""

from __future__ import annotations

import httpx2
import pytest

import providers.local as local
from providers.local import OLLAMA, detect
from tests.conftest import UNREACHABLE
from tests.local_fake import local_server

pytestmark = pytest.mark.anyio


async def test_a_running_ollama_and_lm_studio_are_found_with_the_models_they_list() -> None:
    async with local_server(["qwen3-coder:30b", "llama3.2"]) as url, httpx2.AsyncClient() as http:
        environ = {"PROVIDER_ROUTER_OLLAMA_URL": url, "PROVIDER_ROUTER_LMSTUDIO_URL": url + "/"}
        found = await detect(http, environ)
    assert [(d.server.provider, d.url, d.models) for d in found] == [
        ("ollama", url, ("llama3.2", "qwen3-coder:30b")),
        ("lmstudio", url, ("llama3.2", "qwen3-coder:30b")),
    ]
    assert found[0].base_url == f"{url}/v1"


async def test_nothing_listening_is_nothing_found() -> None:
    async with httpx2.AsyncClient() as http:
        found = await detect(http, {"PROVIDER_ROUTER_OLLAMA_URL": UNREACHABLE, "PROVIDER_ROUTER_LMSTUDIO_URL": ""})
    assert found == []


def test_ollama_host_as_a_bind_address_is_reached_on_loopback() -> None:
    assert OLLAMA.url({"OLLAMA_HOST": "0.0.0.0:11500"}) == "http://127.0.0.1:11500"
    assert (
        OLLAMA.url({"PROVIDER_ROUTER_OLLAMA_URL": "http://127.0.0.1:9/", "OLLAMA_HOST": "x:1"}) == "http://127.0.0.1:9"
    )
    assert all(server.url({}) == UNREACHABLE for server in local.LOCAL_SERVERS)  # never the machine's own ports
