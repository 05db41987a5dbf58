"""Conversations end to end: they stay put, move only when it is safe, come back after a failover, and every move
is an audit record (from, to, why, when)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from routing.tokens import message_tokens
from storage import LoggedSwitch
from tests.routing.e2e import Routed, ask, routed

pytestmark = pytest.mark.anyio

#: a history above this many tokens keeps its provider (the seed's 5,000, scaled down to keep prompts short)
THRESHOLD = 60
LONG = "Consider the following design carefully and explain the trade-offs of each part in detail. " * 8


async def turn(world: Routed, text: str, conversation_id: str | None, **fields: Any) -> Any:
    with anyio.fail_after(10):
        return await world.app.router.route(ask(text, conversation_id=conversation_id, **fields))


async def switches(world: Routed, conversation_id: str) -> list[tuple[str | None, str | None, str]]:
    logged: list[LoggedSwitch] = await world.app.decisions.switches(conversation_id=conversation_id)
    return [(s.record.from_provider, s.record.to_provider, s.record.reason) for s in reversed(logged)]


async def test_a_turn_saves_its_task_type_and_the_history_estimate(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        first = await turn(world, "Fix this Python function", None, task_type="coding")
        saved = await world.app.conversations.get(first.conversation_id)
        assert saved is not None
        assert (saved.last_task_type, saved.current_provider, saved.preferred_provider) == (
            "coding",
            "openai",
            "openai",
        )
        assert saved.history_tokens == message_tokens(saved.messages)
        await turn(world, "Now write a haiku about it", first.conversation_id, task_type="creative")
        saved = await world.app.conversations.get(first.conversation_id)
        assert saved is not None and saved.last_task_type == "creative" and len(saved.messages) == 4
        assert saved.history_tokens == message_tokens(saved.messages)
        view = await world.app.router.ports.state.view([], first.conversation_id, world.clock())
        record = view.conversation
        assert (record.state.last_task_type, record.state.history_tokens) == ("creative", saved.history_tokens)


async def test_a_large_conversation_stays_until_its_task_type_changes_significantly(tmp_path: Path) -> None:
    async with routed(tmp_path, switchThresholdTokens=THRESHOLD) as world:
        first = await turn(world, LONG, None, task_type="reasoning")
        cid = first.conversation_id
        assert first.provider == "anthropic"
        # coding lists openai first, but coding and reasoning are close: the conversation stays
        stay = await turn(world, "Now sketch the code for it", cid, task_type="coding")
        assert (stay.provider, stay.reason, stay.switched) == ("anthropic", "sticky", None)
        moved = await turn(world, "Write a short poem about this design", cid, task_type="creative")
        assert (moved.provider, moved.switched) == ("openai", "anthropic -> openai (task_type)")
        assert await switches(world, cid) == [("anthropic", "openai", "task_type")]
        sent = world.sim.requests("openai")[-1].body["messages"]
        assert len(sent) == 5  # the whole history, converted, and the new turn


async def test_a_small_conversation_moves_freely_and_the_move_is_audited(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        first = await turn(world, "Summarize: the cat sat on the mat", None, task_type="simple")
        assert first.provider == "google"
        moved = await turn(world, "Fix this Python function", first.conversation_id, task_type="coding")
        assert (moved.provider, moved.switched) == ("openai", "google -> openai (small_history)")
        logged = await world.app.decisions.switches(conversation_id=first.conversation_id)
        assert len(logged) == 1
        switch = logged[0]
        assert (switch.record.from_model, switch.record.to_model) == ("gemini-3.5-flash-lite", "gpt-5.2")
        assert switch.record.decision_id == moved.decision_id and switch.created_at == world.clock()


async def test_a_failover_mid_conversation_returns_to_the_preferred_provider_once_it_recovers(tmp_path: Path) -> None:
    async with routed(tmp_path, switchThresholdTokens=THRESHOLD) as world:
        first = await turn(world, LONG, None, task_type="reasoning")
        cid = first.conversation_id
        world.sim.set_down("anthropic", "overloaded")
        away = await turn(world, "And what about the storage layer?", cid, task_type="reasoning")
        assert (away.provider, away.reason, away.switched) == ("kimi", "failover", "anthropic -> kimi (failover)")
        assert len(world.sim.requests("kimi")[-1].body["messages"]) == 3  # the history came along
        saved = await world.app.conversations.get(cid)
        assert saved is not None and (saved.current_provider, saved.preferred_provider) == ("kimi", "anthropic")
        # anthropic is still cooling down: the conversation stays where it is now, without a call to anthropic
        held = await turn(world, "And the network layer?", cid, task_type="reasoning")
        assert (held.provider, held.reason, held.switched) == ("kimi", "sticky", None)
        assert world.sim.stats("anthropic").requests == 2
        world.sim.set_down("anthropic", None)
        world.clock.advance(seconds=11)
        back = await turn(world, "Summing up, which part is riskiest?", cid, task_type="reasoning")
        assert (back.provider, back.reason, back.switched) == (
            "anthropic",
            "preference",
            "kimi -> anthropic (recovered)",
        )
        assert len(world.sim.requests("anthropic")[-1].body["messages"]) == 7
        assert await switches(world, cid) == [("anthropic", "kimi", "failover"), ("kimi", "anthropic", "recovered")]


async def test_without_preserve_context_a_move_starts_the_history_afresh(tmp_path: Path) -> None:
    async with routed(tmp_path, switchThresholdTokens=THRESHOLD, preserveContext=False) as world:
        first = await turn(world, LONG, None, task_type="reasoning")
        cid = first.conversation_id
        world.sim.set_down("anthropic", "overloaded")
        away = await turn(world, "And what about the storage layer?", cid, task_type="reasoning")
        assert away.provider == "kimi"
        assert len(world.sim.requests("kimi")[-1].body["messages"]) == 1
        saved = await world.app.conversations.get(cid)
        assert saved is not None and [m.role for m in saved.messages] == ["user", "assistant"]
        assert saved.history_tokens == message_tokens(saved.messages)


async def test_a_failover_that_ends_where_the_conversation_already_is_is_not_a_switch(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        first = await turn(world, "Summarize: the cat sat on the mat", None, task_type="simple")
        for account in ("openai", "anthropic", "zai", "kimi"):
            world.sim.set_down(account, "server_error")
        # the small history may move to openai for coding; every other provider fails, and google serves again
        again = await turn(world, "Fix this Python function", first.conversation_id, task_type="coding")
        assert again.provider == "google" and again.switched is None
        assert await switches(world, first.conversation_id) == []


async def test_a_prompt_is_tokenized_once_per_request_and_its_turn_keeps_the_same_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routing.tokens as tokens_module

    counted: list[str] = []
    count_text = tokens_module.count_text

    def spy(text: str, encoding: Any = "o200k_base") -> int:
        counted.append(text)
        return count_text(text, encoding)

    monkeypatch.setattr(tokens_module, "count_text", spy)
    async with routed(tmp_path) as world:
        first = await turn(world, LONG, None, task_type="reasoning")
        saved = await world.app.conversations.get(first.conversation_id)
    assert counted.count(LONG) == 1
    assert saved is not None and saved.history_tokens == message_tokens(saved.messages)
