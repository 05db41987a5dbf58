"""The decision log: one row per decision with JSON columns, attempts, switches, prompts only on opt-in, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from providers.attempts import AttemptRecord
from providers.types import Usage
from storage.db import Store
from storage.decisions import DecisionLog, DecisionRecord, SwitchRecord
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio

DECISION = DecisionRecord(
    task_summary="coding: refactor a function (412 tokens)",
    candidates=({"provider": "openai", "model": "gpt-4.1", "score": 0.82}, {"provider": "zai", "score": 0.7}),
    exclusions=({"provider": "google", "filter": "quota_exhausted"},),
    scores={"openai/gpt-4.1": {"preference": 0.5, "cost": 0.32}},
    provider="openai",
    model="gpt-4.1",
    account="openai-1",
    reason="preference",
    confidence=0.9,
    task_type="coding",
    quality="balanced",
    conversation_id="chat-1",
    prompt="the secret plan",
)


def attempt(outcome: str = "success", error_class: str | None = None, latency: float = 100.0) -> AttemptRecord:
    return AttemptRecord(
        provider="openai",
        model="gpt-4.1",
        account="openai-1",
        outcome=outcome,  # type: ignore[arg-type]
        latency_ms=latency,
        started_at=NOW,
        error_class=error_class,  # type: ignore[arg-type]
        usage=Usage(input_tokens=400, output_tokens=50, cache_read_tokens=100, reasoning_tokens=10),
        cost_usd=0.0012,
    )


async def test_a_decision_comes_back_with_its_attempts_and_without_the_prompt(store: Store) -> None:
    log = DecisionLog(store)
    decision_id = await store.write(
        log.record_job(DECISION, NOW, attempts=[attempt("error", "rate_limited", 80.0), attempt()])
    )
    found = await log.get(decision_id)
    assert found is not None
    assert found.created_at == NOW
    assert found.record.candidates == DECISION.candidates
    assert found.record.exclusions == DECISION.exclusions
    assert found.record.scores == DECISION.scores
    assert found.record.prompt is None
    assert [a.outcome for a in found.attempts] == ["error", "success"]
    assert found.attempts[1] == attempt()
    assert await log.get(decision_id + 1) is None


async def test_the_prompt_is_kept_only_when_the_user_enabled_it(store: Store) -> None:
    decision_id = await store.write(DecisionLog(store, keep_prompts=True).record_job(DECISION, NOW))
    found = await DecisionLog(store).get(decision_id)
    assert found is not None and found.record.prompt == "the secret plan"


async def test_recent_decisions_are_newest_first_and_filterable(store: Store) -> None:
    log = DecisionLog(store)
    first = await store.write(log.record_job(DECISION, NOW))
    second = await store.write(log.record_job(DecisionRecord(task_summary="simple", provider="zai"), NOW))
    assert [d.id for d in await log.recent()] == [second, first]
    assert [d.id for d in await log.recent(provider="openai")] == [first]
    assert [d.id for d in await log.recent(conversation_id="chat-1")] == [first]
    assert [d.id for d in await log.recent(limit=1)] == [second]


async def test_switches_are_audited_from_to_why_and_when(store: Store) -> None:
    log = DecisionLog(store)
    decision_id = await store.write(log.record_job(DECISION, NOW))
    switch = SwitchRecord(
        reason="failover",
        from_provider="google",
        to_provider="openai",
        conversation_id="chat-1",
        decision_id=decision_id,
    )
    await log.record_switch(switch, NOW)
    await log.record_switch(SwitchRecord(reason="manual", to_provider="zai"), NOW + timedelta(seconds=1))
    switches = await log.switches()
    assert [s.record.reason for s in switches] == ["manual", "failover"]
    assert switches[1].record == switch and switches[1].created_at == NOW
    assert [s.record.reason for s in await log.switches(conversation_id="chat-1")] == ["failover"]


def test_decision_json_reads_back_as_the_standard_library_wrote_it() -> None:
    import json

    from storage.json_text import dumps_json

    value = [{"provider": "zai", "score": 0.8125, "note": "gemini-2.5-flash retired → 3.5", "tiers": (0, None)}]
    assert json.loads(dumps_json(value)) == json.loads(json.dumps(value))
    keyed = {1: "int keys", "nested": {"set": None}}
    assert json.loads(dumps_json(keyed)) == {"1": "int keys", "nested": {"set": None}}
