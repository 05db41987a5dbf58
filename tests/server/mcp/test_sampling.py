"""MCP sampling as the last resort: every provider failing, a client that declared `sampling` answers with its own
model (provider `client`, reason `failover`, $0); a client without it gets the usual error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ErrorData,
    ImageContent,
    ListRootsResult,
    Root,
    TextContent,
)

import server
from tests.clock import FixedClock, moved_clock_environ
from tests.harness import SIM_KEY, simulated_home
from tests.server.mcp_support import Session, mcp_session, text_of

pytestmark = pytest.mark.anyio

ROOT = Path(server.__file__).parents[1]
ACCOUNTS = ("zai", "kimi", "openai", "anthropic", "google-1", "google-2", "google-3")
PROMPT = "Summarise: the build is green again."


class ClientModel:
    """A sampling callback that records what it was asked and answers from 'the client's model'."""

    def __init__(self) -> None:
        self.asked: list[CreateMessageRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
        self.asked.append(params)
        return CreateMessageResult(
            role="assistant", content=TextContent(text="The build passes again."), model="client-opus"
        )


def all_down(s: Session) -> None:
    for account in ACCOUNTS:
        s.sim.set_down(account, "server_error")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_provider_failing_the_clients_own_model_answers(
    tmp_path: Path, mode: Literal["auto", "legacy"]
) -> None:
    model = ClientModel()
    async with mcp_session(tmp_path, mode=mode, sampling_callback=model) as s:
        all_down(s)
        with anyio.fail_after(30):
            out = await s.ok(
                "route_and_complete", prompt=PROMPT, system="Be terse.", task_type="simple", quality="max_speed"
            )
        decision = await s.read(f"router://decisions/{out['decision_id']}")
        log = await s.read("router://decisions")
    assert (out["provider"], out["account"], out["model"]) == ("client", "client", "client-opus")
    assert out["reason"] == "failover" and out["cost_usd"] == 0
    assert out["text"] == "The build passes again."
    assert out["usage"]["input_tokens"] > 0 and out["usage"]["output_tokens"] > 0  # estimated: none reported
    assert out["attempts"][-1]["provider"] == "client" and out["attempts"][-1]["outcome"] == "success"
    # the failed attempts are logged (on 2026-07-28 in the first round's decision; the client retries the call)
    failed = [a for d in log["decisions"] for a in d["attempts"] if a["outcome"] == "error"]
    assert failed and all(a["provider"] != "client" for a in failed)
    (asked,) = model.asked
    assert asked.system_prompt == "Be terse."
    assert [m.content.text for m in asked.messages if isinstance(m.content, TextContent)] == [PROMPT]
    prefs = asked.model_preferences
    assert prefs is not None and prefs.speed_priority is not None and prefs.speed_priority >= 0.8
    assert decision["provider"] == "client" and decision["reason"] == "failover"


async def test_a_client_without_sampling_gets_the_usual_error(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        all_down(s)
        with anyio.fail_after(30):
            result = await s.call("route_and_complete", prompt=PROMPT)
    assert result.is_error
    assert "no provider could serve this request" in text_of(result)
    assert "client" not in text_of(result).split("Fix:")[0].replace("provider-router", "")


async def test_sampling_fallback_off_in_the_preferences_keeps_the_usual_error(tmp_path: Path) -> None:
    model = ClientModel()
    async with mcp_session(tmp_path, sampling_callback=model, samplingFallback=False) as s:
        all_down(s)
        with anyio.fail_after(30):
            result = await s.call("route_and_complete", prompt=PROMPT)
    assert result.is_error and "no provider could serve this request" in text_of(result)
    assert model.asked == []


async def test_a_budget_mode_that_allows_nothing_falls_back_to_the_client(tmp_path: Path) -> None:
    model = ClientModel()
    async with mcp_session(tmp_path, sampling_callback=model, google_daily=0) as s:
        with anyio.fail_after(30):
            out = await s.ok("route_and_complete", prompt=PROMPT, budget_mode="free_only")
        requests = sum(s.sim.stats(account).requests for account in ACCOUNTS)
    assert out["provider"] == "client" and requests == 0
    prefs: Any = model.asked[0].model_preferences
    assert prefs.cost_priority >= 0.9


async def test_the_client_attempt_is_counted_in_the_metrics(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, sampling_callback=ClientModel()) as s:
        all_down(s)
        with anyio.fail_after(30):
            await s.ok("route_and_complete", prompt=PROMPT)
        metrics = await s.read("router://metrics")
    assert "client" in str(metrics)


async def test_over_stdio_the_clients_model_answers_when_every_provider_fails(tmp_path: Path) -> None:
    model = ClientModel()
    home = tmp_path / "home"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "server.serve"],
        env={"PROVIDER_ROUTER_HOME": str(home), "SIM_KEY": SIM_KEY, **moved_clock_environ()},
        cwd=ROOT,
    )
    async with simulated_home(home, FixedClock()) as (sim, _paths):
        for account in ACCOUNTS:
            sim.set_down(account, "server_error")
        with (tmp_path / "stderr.log").open("w") as errlog, anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog), sampling_callback=model) as client:
                result = await client.call_tool("route_and_complete", {"prompt": PROMPT})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out is not None and out["provider"] == "client" and out["reason"] == "failover"
    assert "routed to client/client-opus" in text_of(result) and len(model.asked) == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_that_attaches_files_reaches_the_clients_model_with_them_when_every_provider_fails(
    tmp_path: Path, mode: Literal["auto", "legacy"]
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.md").write_text("FILE_MARKER: the build broke on Tuesday.\n")
    roots_asked: list[int] = []

    async def list_roots(context: ClientRequestContext) -> ListRootsResult | ErrorData:
        roots_asked.append(1)
        return ListRootsResult(roots=[Root(uri=root.as_uri(), name="ws")])

    model = ClientModel()
    async with mcp_session(tmp_path / "home", mode=mode, sampling_callback=model, list_roots_callback=list_roots) as s:
        all_down(s)
        with anyio.fail_after(30):
            out = await s.ok("route_and_complete", prompt=PROMPT, files=["notes.md"])
    assert out["provider"] == "client" and out["text"] == "The build passes again."
    assert [f["path"] for f in out["files"]] == ["notes.md"]
    (asked,) = model.asked
    assert any("FILE_MARKER" in m.content.text for m in asked.messages if isinstance(m.content, TextContent))
    assert roots_asked  # the workspace came from the client's roots, in both protocol eras


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_model_answering_with_an_image_is_named_in_the_error_when_nothing_else_can_serve(
    tmp_path: Path, mode: Literal["auto", "legacy"]
) -> None:
    async def draws(context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
        return CreateMessageResult(
            role="assistant", content=ImageContent(data="AAAA", mime_type="image/png"), model="client-painter"
        )

    async with mcp_session(tmp_path, mode=mode, sampling_callback=draws, google_daily=0) as s:
        with anyio.fail_after(30):
            result = await s.call("route_and_complete", prompt=PROMPT, budget_mode="free_only")
    assert result.is_error
    assert "client" in text_of(result) and "ImageContent, not text" in text_of(result)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_client_model_answering_with_empty_text_is_named_in_the_error_and_not_counted_as_served(
    tmp_path: Path, mode: Literal["auto", "legacy"]
) -> None:
    async def says_nothing(context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
        return CreateMessageResult(role="assistant", content=TextContent(text=" \n\t"), model="client-mute")

    async with mcp_session(tmp_path, mode=mode, sampling_callback=says_nothing, google_daily=0) as s:
        with anyio.fail_after(30):
            result = await s.call("route_and_complete", prompt=PROMPT, budget_mode="free_only")
    assert result.is_error
    assert "client" in text_of(result) and "empty text" in text_of(result)
