"""Bad input at the MCP boundary: random arguments to every tool, hostile ids and resource URIs, huge prompts.

Whatever arrives, the client gets either a result or a clear error (never a traceback), the server keeps serving,
a hostile id reaches no other conversation's data, and nothing is read or written outside the router's home.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import MCPError
from mcp.types import CallToolResult

from providers.simulator import Simulator
from tests.clock import fixed_epoch
from tests.reliability import tally
from tests.reliability.support import KINDS, Live, live, matrix_accounts, matrix_config, text_of
from tests.server.mcp_support import mcp_session

SECRET = "the-launch-code-is-4711"
#: strings that have broken servers before: traversal, SQL, wildcards, NUL, bidi and lookalike unicode, huge
HOSTILE = [
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/shadow",
    "file:///etc/passwd",
    "'; DROP TABLE decisions; --",
    "1 OR 1=1",
    "x' OR '1'='1",
    "%",
    "_",
    "*",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "ｏｐｅｎａｉ",
    "OPENAI ",
    "null",
    "auto",
    "router://config",
    "${HOME}",
    "{{7*7}}",
    "é" * 5000,
    "x" * 10240,
    "",
    " ",
]
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(HOSTILE)
)
JSON_VALUES = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=12,
)

#: plausible values per argument name, mixed with anything at all
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "prompt": st.text(max_size=200),
    "messages": st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "assistant", "system", "tool", "", "USER"]),
                "content": st.text(max_size=40),
            }
        ),
        max_size=4,
    ),
    "system": st.text(max_size=60),
    "task_type": st.sampled_from(["coding", "reasoning", "creative", "simple", "poetry", ""]),
    "quality": st.sampled_from(["max_speed", "balanced", "max_quality", "max_context", "cost_first", "best"]),
    "budget_mode": st.sampled_from(["free_only", "cost_first", "quality_first", "free"]),
    "provider": st.sampled_from([*KINDS, "backup", "auto", "moonshot", "google-1"]),
    "model": st.sampled_from([model for _flavour, model in KINDS.values()] + ["gpt-4", "retired-model"]),
    "providers": st.lists(st.sampled_from([*KINDS, "backup", "nobody"]), max_size=4),
    "conversation_id": st.text(alphabet="abcdef0123456789-_", min_size=1, max_size=64),
    "max_output_tokens": st.integers(min_value=-5, max_value=10**7),
    "temperature": st.floats(min_value=-1, max_value=3),
    "max_cost_usd": st.floats(min_value=-1, max_value=10),
    "dry_run": st.booleans(),
    "default": st.booleans(),
    "period": st.sampled_from(["day", "month", "year"]),
}
TOOLS = ("route_and_complete", "provider_status", "set_preference", "switch_provider", "quota_report")


@asynccontextmanager
async def _world(home: Path) -> AsyncIterator[Live]:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim, live(home, sim, matrix_config(sim)) as session:
        yield session


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlockingPortal, Live, Path]]:
    """One server for every example (a fresh one per example would spend the time budget on start-ups).

    The portal runs its event loop in a thread, so hypothesis's synchronous examples can call the async client.
    """
    root = tmp_path_factory.mktemp("fuzz")
    (root / "outside.txt").write_text("untouched")
    with start_blocking_portal("asyncio") as portal, portal.wrap_async_context_manager(_world(root / "home")) as s:
        yield portal, s, root


def _arguments(tool: str, schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    optional = {
        name: st.one_of(_PLAUSIBLE.get(name, JSON_VALUES), st.sampled_from(HOSTILE), JSON_VALUES) for name in properties
    }
    extra = st.dictionaries(st.text(max_size=10).filter(lambda k: k not in properties), JSON_VALUES, max_size=2)
    return st.builds(lambda known, more: {**more, **known}, st.fixed_dictionaries({}, optional=optional), extra)


def _assert_clear(result: CallToolResult) -> None:
    text = text_of(result)
    assert "Traceback" not in text and 'File "' not in text, text
    if result.is_error:
        assert text.strip() and len(text) < 20_000, text[:500]
    else:
        assert result.structured_content is not None


def _schemas(portal: BlockingPortal, s: Live) -> dict[str, dict[str, Any]]:
    tools = portal.call(s.client.list_tools).tools
    return {tool.name: tool.input_schema for tool in tools}


@pytest.mark.parametrize("tool", TOOLS)
def test_random_arguments_to_every_tool_give_a_result_or_a_clear_error(
    fuzzed: tuple[BlockingPortal, Live, Path], tool: str
) -> None:
    portal, s, root = fuzzed
    schema = _schemas(portal, s)[tool]
    tried = 0

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(arguments=_arguments(tool, schema))
    def check(arguments: dict[str, Any]) -> None:
        nonlocal tried
        tried += 1
        try:
            result = portal.call(s.client.call_tool, tool, arguments)
        except MCPError as error:  # a protocol error: allowed for a request no retry could fix, if it says why
            assert str(error).strip() and "Traceback" not in str(error), error
        else:
            _assert_clear(result)

    check()
    status = portal.call(s.client.call_tool, "provider_status", {})
    assert not status.is_error  # still serving
    assert sorted(p.name for p in root.iterdir()) == ["home", "outside.txt"]
    assert (root / "outside.txt").read_text() == "untouched"
    home_files = {p.name for p in (root / "home").iterdir()}
    assert all(name.startswith(("providers.json", "router.db")) for name in home_files), home_files
    tally.record("inputs", tried, test=f"fuzz {tool}")


HOSTILE_URIS = [
    "router://decisions/../../../../etc/passwd",
    "router://decisions/1%2F..%2F..%2Fetc%2Fpasswd",
    "router://decisions/1 OR 1=1",
    "router://decisions/1;DROP TABLE decisions",
    "router://decisions/-1",
    "router://decisions/0x1",
    "router://decisions/²",
    "router://decisions/１",
    "router://decisions/9223372036854775808",
    "router://decisions/" + "9" * 10240,
    "router://decisions/%00",
    "router://config/../../../etc/passwd",
    "router://../etc/passwd",
    "file:///etc/passwd",
    "file://" + "/" * 3 + "proc/self/environ",
    "router://providers?x=../../",
    "ROUTER://CONFIG",
]


@pytest.mark.anyio
async def test_hostile_resource_uris_are_clear_not_found_errors_that_read_nothing(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim, live(tmp_path, sim, matrix_config(sim)) as s:
        with anyio.fail_after(20):
            served = (await s.call("route_and_complete", prompt="Say hi", task_type="simple")).structured_content
            assert served is not None
            for uri in HOSTILE_URIS:
                with pytest.raises(MCPError) as caught:
                    await s.client.read_resource(uri)
                message = str(caught.value)
                assert message.startswith(("Unknown resource", "no decision")), (uri, message)
                assert "root:" not in message and "Traceback" not in message and len(message) < 300
            one = await s.read(f"router://decisions/{served['decision_id']}")
    assert one["id"] == served["decision_id"]
    tally.record("inputs", len(HOSTILE_URIS), test="hostile resource uris")


@pytest.mark.anyio
async def test_a_hostile_conversation_id_never_reaches_another_conversation(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim, live(tmp_path, sim, matrix_config(sim)) as s:
        with anyio.fail_after(30):
            first = await s.call("route_and_complete", prompt=f"Remember this: {SECRET}", task_type="simple")
            owner = (first.structured_content or {})["conversation_id"]
            # lookalikes of the owner's id (case, wildcards, padding, prefixes) and injection attempts
            guesses = [
                owner.upper(), owner[:-1], owner[:-1] + "_", owner + " ", f" {owner}", f"{owner}%", "%", "_", "*",
                f"{owner}' OR '1'='1", f"{owner}--", "x' OR 1=1 --", f"../{owner}", "\u0000" + owner, owner + "\u200b",
                "ｘ" * 64, "x" * 65, "x" * 10240,
            ]  # fmt: skip
            sim.reset_counters()
            for guess in guesses:
                result = await s.call(
                    "route_and_complete", prompt="What did I ask you to remember?", conversation_id=guess
                )
                out = result.structured_content or {}
                assert result.is_error or out["conversation_id"] == guess, guess
                assert SECRET not in text_of(result)
                switched = await s.call("switch_provider", provider="openai", conversation_id=guess)
                assert SECRET not in text_of(switched)
            sent = [json.dumps(request.body) for account in (*KINDS, "backup") for request in sim.requests(account)]
            owner_state = await s.app.conversations.get(owner)
    assert sent and not any(SECRET in body for body in sent)
    assert owner_state is not None and owner_state.pinned is None and len(owner_state.messages) == 2
    tally.record("inputs", len(guesses) * 2, test="hostile conversation ids")


@pytest.mark.anyio
async def test_a_prompt_beyond_every_context_window_is_refused_with_the_reason_without_calling_anyone(
    tmp_path: Path,
) -> None:
    async with mcp_session(tmp_path) as s:  # the seed's line-up: the largest window is about a million tokens
        windows = [m.context_window for p in s.app.config.providers.values() for m in p.models.values()]
        huge = "lorem ipsum dolor sit amet " * (max(windows) // 4 + 50_000)
        with anyio.fail_after(60):
            result = await s.call("route_and_complete", prompt=huge)
            dry = await s.call("route_and_complete", prompt=huge, dry_run=True)
        calls = sum(s.sim.stats(account.id).requests for account in s.sim.spec.accounts)
    assert result.is_error and calls == 0
    text = text_of(result)
    assert "context" in text and len(text) < 5_000, text[:500]
    assert {e["filter"] for e in (dry.structured_content or {})["excluded"]} == {"context"}
    tally.record("inputs", 2, test="huge prompt")


@pytest.mark.anyio
async def test_a_preference_order_repeating_a_provider_thousands_of_times_is_written_once_each(tmp_path: Path) -> None:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim, live(tmp_path, sim, matrix_config(sim)) as s:
        with anyio.fail_after(20):
            result = await s.call("set_preference", providers=["openai", "moonshot", "kimi"] * 5000, task_type="coding")
    assert not result.is_error, text_of(result)
    assert (result.structured_content or {})["preferences"]["task_preferences"]["coding"] == ["openai", "kimi"]
    assert s.paths.config_file.stat().st_size < 10_000
    tally.record("inputs", test="hostile preference order")
