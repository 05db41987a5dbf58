"""Provider prompt caching end to end: a conversation with a long stable prefix on the simulated Anthropic writes
the prefix, the next turn reads it, the conversation remembers which account holds it, and `cache stats` and
router://metrics report the reads, writes and dollars saved at the model's cache prices."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from providers.types import Message
from routing.router import RouteRequest
from server import views
from storage import Conversations
from tests.clock import FixedClock
from tests.harness import seed_app

pytestmark = pytest.mark.anyio

RULES = "The repository's coding rules, one long paragraph about style and tests. " * 120


def turn(text: str, conversation: str | None) -> RouteRequest:
    return RouteRequest(
        messages=(Message(role="user", content=text),),
        system=RULES,
        task_type="reasoning",
        provider="anthropic",
        conversation_id=conversation,
    )


async def test_a_warm_prefix_is_read_on_the_next_turn_and_its_savings_reported(tmp_path: Path) -> None:
    clock = FixedClock()
    async with seed_app(tmp_path, clock=clock) as (app, _sim):
        with anyio.fail_after(10):
            first = await app.router.route(turn("Why does the build fail?", None))
            clock.advance(minutes=1)
            second = await app.router.route(turn("And how do I fix it?", first.conversation_id))
        assert first.usage.cache_write_tokens > 1000 and first.usage.cache_read_tokens == 0
        assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
        assert first.conversation_id is not None
        conversation = await Conversations(app.store).get(first.conversation_id)
        assert conversation is not None and conversation.warm is not None
        assert conversation.warm[:2] == ("anthropic", first.model)
        # what routing sees for the conversation's next turn: the account holding the prefix is warm
        view = await app.router.ports.state.view(await app.router.seeds(), first.conversation_id, clock.now)
        warm = {(c.provider, c.model.id) for c in view.candidates if c.warm}
        assert warm == {("anthropic", first.model)}
        clock.advance(minutes=6)  # the prefix has gone cold
        later = await app.router.ports.state.view(await app.router.seeds(), first.conversation_id, clock.now)
        assert not any(c.warm for c in later.candidates)
        report = await views.cache_report(app)
        metrics = await views.metrics_report(app)
    prompt = report.prompt_cache
    assert (prompt.calls, prompt.hits, prompt.hit_rate) == (2, 1, 0.5)
    writes = first.usage.cache_write_tokens + second.usage.cache_write_tokens  # the second writes only its new turns
    assert (prompt.read_tokens, prompt.write_tokens) == (second.usage.cache_read_tokens, writes)
    # reads at a tenth of the input price, writes at 1.25 times it: one read of the prefix pays for the write
    assert prompt.dollars_saved > 0
    assert metrics.cache is not None and metrics.cache.prompt_cache == prompt
