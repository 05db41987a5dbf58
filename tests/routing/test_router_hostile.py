"""The attempt loop against upstreams that misbehave: impossible or missing usage, a reply past the size cap, an
unusable key, an adapter or a store that fails in a way nobody foresaw. Whatever happens the attempt and the
decision are logged and no reservation stays pending; spend is never lowered nor recorded as zero."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.errors import UnusableKey
from providers.models import Account, ProviderConfig
from providers.simulator import AnyFault
from providers.types import ChatRequest, Completion, RateLimits, StreamEvent
from routing.ports import Change, DecisionLogEntry, KeyPort, SavedTurn
from routing.results import NoRouteAvailable
from routing.settlement import ESTIMATED_DETAIL
from tests.routing.e2e import Routed, ask, routed

pytestmark = pytest.mark.anyio

CODING = "Fix this Python function: def f(x): return x +"


async def _scalar(world: Routed, sql: str, *params: Any) -> Any:
    rows = await world.app.store.fetchall(sql, params)
    return next(iter(rows))[0]


async def _attempt_rows(world: Routed, decision_id: int | None) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT provider, outcome, error_class, input_tokens, output_tokens, cost_nusd, usage_estimated "
        "FROM attempts WHERE decision_id = ? ORDER BY id"
    )
    return [tuple(row) for row in await world.app.store.fetchall(sql, (decision_id,))]


async def _route(world: Routed, fault: AnyFault | None) -> Any:
    world.sim.script("openai", [fault])
    with anyio.fail_after(10):
        return await world.app.router.route(ask(CODING, task_type="coding"))


@pytest.mark.parametrize("fault", ["no_usage", "nan_usage", "huge_usage", "negative_usage"])
async def test_a_reply_without_believable_usage_is_served_and_settled_at_the_estimate(
    tmp_path: Path, fault: AnyFault
) -> None:
    async with routed(tmp_path) as world:
        result = await _route(world, fault)
        assert (result.provider, result.reason) == ("openai", "preference")
        assert result.attempts[0].detail == ESTIMATED_DETAIL
        assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0 and result.cost_usd > 0
        [(provider, outcome, error_class, tokens_in, tokens_out, cost, estimated)] = await _attempt_rows(
            world, result.decision_id
        )
        assert (provider, outcome, error_class, estimated) == ("openai", "success", None, 1)
        assert (tokens_in, tokens_out) == (result.usage.input_tokens, result.usage.output_tokens)
        assert cost == round(result.cost_usd * 1e9) > 0
        settled = await _scalar(world, "SELECT tokens, cost_nusd FROM reservations WHERE state = 'settled'")
        assert settled == result.usage.total_tokens
        spent = await _scalar(world, "SELECT MIN(cost_nusd) FROM usage_counters")
        assert spent > 0
        assert await world.pending() == 0


async def test_a_reply_with_usage_is_not_marked_estimated(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        result = await _route(world, None)
        assert result.attempts[0].detail is None
        [row] = await _attempt_rows(world, result.decision_id)
        assert row[-1] == 0


async def test_an_infinite_reported_cost_falls_back_to_the_price_list(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        result = await _route(world, "inf_cost")
        assert result.provider == "openai"
        assert 0 < result.cost_usd < 1


async def test_rate_limit_headers_saying_inf_do_not_stop_the_answer(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        result = await _route(world, "inf_header")
        assert result.provider == "openai"
        health = await world.health("openai", "gpt-5.2")
        assert health.learned_requests_limit is None
        assert await world.pending() == 0


async def test_a_reply_past_the_size_cap_fails_over_as_a_server_error(tmp_path: Path) -> None:
    async with routed(tmp_path, settings={"maxResponseMb": 0.1}) as world:
        world.sim.configure("openai", huge_body_bytes=300_000)
        result = await _route(world, "huge_body")
        assert (result.provider, result.reason) == ("anthropic", "failover")
        assert [(a.provider, a.error_class) for a in result.attempts] == [
            ("openai", "server_error"),
            ("anthropic", None),
        ]
        assert "size cap" in (result.attempts[0].detail or "")
        assert await world.pending() == 0


class _Exploding:
    """An adapter whose stream fails with an exception no adapter is supposed to raise."""

    async def complete(self, request: ChatRequest) -> Completion:
        raise RuntimeError("boom")

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for event in self._events():
            yield event

    def _events(self) -> list[StreamEvent]:
        raise OverflowError("int too large to convert")

    def parse_limits(self, headers: Mapping[str, str], now: datetime) -> RateLimits:
        return RateLimits()


async def test_an_unexpected_adapter_exception_is_a_failed_attempt_that_fails_over(tmp_path: Path) -> None:
    async with routed(tmp_path) as world:
        ports = world.app.router.ports
        real = ports.connect

        def connect(provider: ProviderConfig, account: Account, key: SecretStr | None) -> ChatAdapter:
            return _Exploding() if provider.id == "openai" else real(provider, account, key)

        ports.connect = connect
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert (result.provider, result.reason) == ("anthropic", "failover")
        rows = await _attempt_rows(world, result.decision_id)
        assert [(row[0], row[1], row[2]) for row in rows] == [
            ("openai", "error", "server_error"),
            ("anthropic", "success", None),
        ]
        assert "OverflowError" in (result.attempts[0].detail or "")
        assert await world.pending() == 0


class _UnusableKeys:
    def __init__(self, inner: KeyPort) -> None:
        self.inner = inner

    async def get(self, account: Account) -> SecretStr | None:
        if account.id == "openai":
            raise UnusableKey(
                "the key in environment variable OPENAI_API_KEY contains a non-ASCII character",
                provider="openai",
                account="openai",
                status_code=0,
            )
        return await self.inner.get(account)

    def forget(self, account_id: str) -> None:
        self.inner.forget(account_id)


async def test_an_unusable_key_rests_its_account_a_minute_with_the_variable_named_but_never_disables_it(
    tmp_path: Path,
) -> None:
    async with routed(tmp_path) as world:
        ports = world.app.router.ports
        ports.keys = _UnusableKeys(ports.keys)
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert result.provider == "anthropic"
        assert [(a.provider, a.error_class) for a in result.attempts][0] == ("openai", "auth_failed")
        state = await world.account("openai")
        assert state.disabled_reason is None  # the provider never judged the key
        assert state.health.cooldown_until == world.clock() + timedelta(minutes=1)
        assert "OPENAI_API_KEY" in (state.health.cooldown_reason or "")
        assert world.sim.stats("openai").requests == 0
        assert await world.pending() == 0


async def test_a_failed_attempts_bookkeeping_that_cannot_be_written_travels_with_the_request_and_failover_goes_on(
    tmp_path: Path,
) -> None:
    async with routed(tmp_path) as world:
        bookkeeping = world.app.router.ports.bookkeeping

        class Busy:
            async def apply(self, changes: Sequence[Change], now: datetime) -> None:
                raise RuntimeError("router.db stayed locked")

            async def finish(
                self, changes: Sequence[Change], entry: DecisionLogEntry, turn: SavedTurn | None, now: datetime
            ) -> int | None:
                return await bookkeeping.finish(changes, entry, turn, now)

        world.app.router.ports.bookkeeping = Busy()
        world.sim.script("openai", ["server_error"])
        with anyio.fail_after(10):
            result = await world.app.router.route(ask(CODING, task_type="coding"))
        assert [(a.provider, a.error_class) for a in result.attempts][0] == ("openai", "server_error")
        assert result.provider != "openai"  # the next candidate served
        state = await world.account("openai")
        assert state.model("gpt-5.2").health.cooldown_until is not None  # the failure's rest was written at the end
        assert await world.pending() == 0


async def test_a_failure_of_the_loop_itself_still_logs_the_decision_releases_and_says_what_failed(
    tmp_path: Path,
) -> None:
    async with routed(tmp_path) as world:
        ledger = world.app.router.ports.ledger
        calls = 0

        class Failing:
            async def reserve(self, claim: Any, now: datetime) -> Any:
                nonlocal calls
                calls += 1
                if calls > 1:
                    raise RuntimeError("the store went away")
                return await ledger.reserve(claim, now)

        world.app.router.ports.ledger = Failing()  # type: ignore[assignment]
        world.sim.script("openai", ["server_error"])
        with anyio.fail_after(10), pytest.raises(NoRouteAvailable) as raised:
            await world.app.router.route(ask(CODING, task_type="coding"))
        assert "the store went away" in str(raised.value)
        assert raised.value.decision_id is not None
        logged = await world.app.decisions.get(raised.value.decision_id)
        assert logged is not None
        assert [(a.provider, a.error_class) for a in logged.attempts] == [("openai", "server_error")]
        assert await world.pending() == 0
