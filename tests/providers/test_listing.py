"""Model listings per wire: pages parsed purely, every page followed, the wire's own auth, key-free errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from providers.listing import (
    ListedModel,
    ListingError,
    fetch_listing,
    parse_anthropic_models,
    parse_gemini_models,
    parse_openai_models,
)
from providers.simulator import SimAccount, Simulator
from providers.types import Endpoint, WireKind
from tests.clock import FixedClock, fixed_epoch

KEY = "sk-listing-test-0123456789abcdef"


def _endpoint(base_url: str, key: str | None = KEY) -> Endpoint:
    return Endpoint(provider="p", account="a", base_url=base_url, api_key=SecretStr(key) if key is not None else None)


# --------------------------------------------------------------------------------------------------- parsing


def test_an_openai_listing_gives_ids_and_nothing_it_does_not_say() -> None:
    models, cursor = parse_openai_models({"object": "list", "data": [{"id": "gpt-5.2"}, {"object": "model"}]})
    assert models == [ListedModel(id="gpt-5.2")] and cursor is None


def test_geminis_openai_compatible_listing_gives_model_ids_without_their_resource_prefix() -> None:
    models, _ = parse_openai_models({"data": [{"id": "models/gemini-3.5-flash", "object": "model"}]})
    assert [m.id for m in models] == ["gemini-3.5-flash"]


def test_an_openrouter_listing_keeps_its_context_completion_limit_and_prices_per_million() -> None:
    entry = {
        "id": "vendor/model-x",
        "context_length": 131072,
        "top_provider": {"max_completion_tokens": 16384},
        "pricing": {"prompt": "0.0000025", "completion": "0.00001"},
    }
    (model,), _ = parse_openai_models({"data": [entry]})
    assert model == ListedModel(
        id="vendor/model-x",
        context_window=131072,
        max_output_tokens=16384,
        input_cost_per_1m=2.5,
        output_cost_per_1m=10.0,
    )


def test_an_anthropic_page_gives_its_last_id_as_the_cursor_only_while_it_has_more() -> None:
    page = {"data": [{"id": "claude-a"}, {"id": "claude-b"}], "has_more": True, "last_id": "claude-b"}
    models, cursor = parse_anthropic_models(page)
    assert [m.id for m in models] == ["claude-a", "claude-b"] and cursor == "claude-b"
    assert parse_anthropic_models(page | {"has_more": False})[1] is None


def test_a_gemini_page_strips_the_models_prefix_reads_the_limits_and_drops_models_that_cannot_generate() -> None:
    page = {
        "models": [
            {
                "name": "models/gemini-x",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            },
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]},
        ],
        "nextPageToken": "tok",
    }
    models, cursor = parse_gemini_models(page)
    assert models == [ListedModel(id="gemini-x", context_window=1048576, max_output_tokens=65536)]
    assert cursor == "tok"


@pytest.mark.parametrize(
    "parse", [parse_openai_models, parse_anthropic_models, parse_gemini_models], ids=["openai", "anthropic", "gemini"]
)
def test_a_page_that_is_not_a_listing_is_refused(parse: Callable[[Any], Any]) -> None:
    with pytest.raises(ValueError, match="expected an object"):
        parse(["not", "a", "listing"])


# --------------------------------------------------------------------------------------------------- fetching


def _client(handler: Callable[[httpx2.Request], httpx2.Response]) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


@pytest.mark.anyio
async def test_anthropic_pages_are_followed_with_after_id_and_the_key_in_x_api_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if "after_id" not in request.url.params:
            return httpx2.Response(200, json={"data": [{"id": "m1"}], "has_more": True, "last_id": "m1"})
        return httpx2.Response(200, json={"data": [{"id": "m2"}], "has_more": False, "last_id": "m2"})

    async with _client(handler) as http:
        models = await fetch_listing("anthropic", http, _endpoint("https://api.example"), FixedClock())
    assert [m.id for m in models] == ["m1", "m2"]
    assert [str(r.url.path) for r in seen] == ["/v1/models", "/v1/models"]
    assert seen[1].url.params["after_id"] == "m1"
    assert seen[0].headers["x-api-key"] == KEY and "anthropic-version" in seen[0].headers


@pytest.mark.anyio
async def test_gemini_pages_are_followed_with_page_token_and_the_key_in_x_goog_api_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.params.get("pageToken") == "2":
            return httpx2.Response(200, json={"models": [{"name": "models/g2"}]})
        return httpx2.Response(200, json={"models": [{"name": "models/g1"}], "nextPageToken": "2"})

    async with _client(handler) as http:
        models = await fetch_listing("gemini", http, _endpoint("https://g.example/v1beta"), FixedClock())
    assert [m.id for m in models] == ["g1", "g2"]
    assert seen[0].url.path == "/v1beta/models" and seen[0].headers["x-goog-api-key"] == KEY


@pytest.mark.anyio
async def test_an_openai_compatible_listing_is_one_get_with_a_bearer_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"data": [{"id": "glm-4.7"}]})

    async with _client(handler) as http:
        models = await fetch_listing("openai", http, _endpoint("https://z.example/api/paas/v4/"), FixedClock())
    assert [m.id for m in models] == ["glm-4.7"]
    assert seen[0].method == "GET" and seen[0].url.path == "/api/paas/v4/models"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, "auth_failed"), (403, "auth_failed"), (500, "server_error"), (429, "rate_limited")],
)
async def test_an_error_status_is_a_listing_error_that_never_repeats_the_key(status: int, error_class: str) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json={"error": {"message": f"key {KEY} refused"}})

    async with _client(handler) as http:
        with pytest.raises(ListingError) as caught:
            await fetch_listing("openai", http, _endpoint("https://x.example/v1"), FixedClock())
    assert caught.value.error_class == error_class and caught.value.status_code == status
    assert KEY not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.anyio
async def test_a_transport_failure_and_a_body_that_is_not_json_are_listing_errors() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    def garbage(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, text="<html>")

    async with _client(refuse) as http:
        with pytest.raises(ListingError) as refused:
            await fetch_listing("gemini", http, _endpoint("https://g.example/v1beta"), FixedClock())
    async with _client(garbage) as http:
        with pytest.raises(ListingError) as malformed:
            await fetch_listing("anthropic", http, _endpoint("https://a.example"), FixedClock())
    assert refused.value.error_class == "transport"
    assert malformed.value.error_class == "server_error"


@pytest.mark.anyio
async def test_a_server_that_always_has_more_is_not_followed_forever() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"data": [{"id": "same"}], "has_more": True, "last_id": "same"})

    async with _client(handler) as http:
        models = await fetch_listing("anthropic", http, _endpoint("https://a.example"), FixedClock())
    assert [m.id for m in models] == ["same"]


# --------------------------------------------------------------------------------------------------- the simulator


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
async def test_the_simulator_lists_its_models_page_by_page_for_each_wire(kind: WireKind) -> None:
    windows = {"m-one": 1000, "m-two": 2000, "m-three": 3000}
    account = SimAccount(id="acc", kind=kind, models=windows, api_key=KEY, listing_page_size=1)
    async with Simulator([account], clock=fixed_epoch) as sim, httpx2.AsyncClient() as http:
        models = await fetch_listing(kind, http, _endpoint(sim.base_url("acc")), FixedClock())
        listing_requests = sim.requests("acc")
        stats = sim.stats("acc")
    assert [m.id for m in models] == list(windows)
    if kind != "openai":
        assert [m.context_window for m in models] == list(windows.values())
        assert len(listing_requests) == 3  # one model per page
    assert all(r.method == "GET" and r.path.endswith("/models") for r in listing_requests)
    assert stats.requests == 0  # a listing uses no quota


@pytest.mark.anyio
async def test_the_simulator_refuses_a_listing_with_the_wrong_key() -> None:
    account = SimAccount(id="acc", kind="anthropic", models={"m": 10}, api_key=KEY)
    async with Simulator([account], clock=fixed_epoch) as sim, httpx2.AsyncClient() as http:
        with pytest.raises(ListingError) as caught:
            await fetch_listing(
                "anthropic", http, _endpoint(sim.base_url("acc"), key="sk-wrong-key-0123456789"), FixedClock()
            )
        logged = sim.requests("acc")
    assert caught.value.error_class == "auth_failed"
    assert logged[0].status == 401 and json.dumps(logged[0].headers).count("sk-wrong") == 0
