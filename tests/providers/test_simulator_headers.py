"""The simulator sends chosen headers with every answer and reports a chosen `usage.cost`, so tests can play an
upstream that says odd things about its limits or its prices."""

from __future__ import annotations

import httpx2
import pytest

from providers.simulator import SimAccount, SimSpec, Simulator
from tests.clock import fixed_epoch

pytestmark = pytest.mark.anyio

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def test_chosen_headers_come_with_answers_and_errors() -> None:
    account = SimAccount(id="or", flavour="openrouter", headers={"x-ratelimit-limit-requests": "0"})
    async with Simulator(SimSpec(accounts=(account,)), clock=fixed_epoch) as sim, httpx2.AsyncClient() as client:
        sim.script("or", [None, "server_error"])
        answered = await client.post(f"{sim.base_url('or')}/chat/completions", json=BODY)
        failed = await client.post(f"{sim.base_url('or')}/chat/completions", json=BODY)
    assert answered.status_code == 200 and failed.status_code == 500
    assert answered.headers["x-ratelimit-limit-requests"] == "0"
    assert failed.headers["x-ratelimit-limit-requests"] == "0"


async def test_an_openrouter_account_reports_the_chosen_cost_and_can_change_it() -> None:
    account = SimAccount(id="or", flavour="openrouter", cost_usd=0.5)
    async with Simulator(SimSpec(accounts=(account,)), clock=fixed_epoch) as sim, httpx2.AsyncClient() as client:
        chosen = (await client.post(f"{sim.base_url('or')}/chat/completions", json=BODY)).json()
        sim.configure("or", cost_usd=None)
        own = (await client.post(f"{sim.base_url('or')}/chat/completions", json=BODY)).json()
    assert chosen["usage"]["cost"] == 0.5
    assert 0 < own["usage"]["cost"] < 0.001
