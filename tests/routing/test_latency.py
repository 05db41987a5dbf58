"""Latency-aware ranking (routing/latency.py through decide()): predicted completion, max_speed, the `latency`
filter, de-ranking a drifted or failing account and probing it."""

from __future__ import annotations

from typing import Any

from routing.latency import FALLBACK_OUTPUT_TOKENS, PROBE_EVERY, expected_output, pool_flags, predicted_ms
from routing.types import SpeedEstimate, Task
from tests.routing.seed import cand, chosen, everyone, pool, run


def speed(ttft: float, rate: float | None = 100.0, samples: int = 5, **kw: object) -> SpeedEstimate:
    return SpeedEstimate(samples=samples, ttft_ms=ttft, ttft_p50_ms=ttft, ttft_p95_ms=ttft, tokens_per_s=rate, **kw)


def test_predicted_completion_is_ttft_plus_expected_output_over_the_rate() -> None:
    assert predicted_ms(speed(500, 100), 400) == 500 + 4000
    assert predicted_ms(None, 400) is None
    assert predicted_ms(speed(500, None), 400) == 500


def test_expected_output_is_the_call_cap_else_the_task_types_history_else_a_fallback() -> None:
    assert expected_output(Task(max_output_tokens=50, expected_output_tokens=900)) == 50
    assert expected_output(Task(expected_output_tokens=900)) == 900
    assert expected_output(Task()) == FALLBACK_OUTPUT_TOKENS


def test_max_speed_ranks_providers_by_predicted_completion_over_its_list() -> None:
    fast = {"speed": speed(100, 500)}
    slow = {"speed": speed(2000, 30)}
    per = {"zai": slow, "kimi": fast, "openai": slow, "anthropic": slow}
    per |= {f"google-{i}": slow for i in (1, 2, 3)}
    decision = run(everyone(3, **per), task_type="coding", quality="max_speed")
    assert chosen(decision) == "kimi"  # the max_speed list says google first
    assert decision.reason == "latency"
    assert decision.chosen is not None and decision.chosen.predicted_ms == 100 + FALLBACK_OUTPUT_TOKENS / 500 * 1000


def test_under_max_speed_a_never_measured_account_is_tried_first_once() -> None:
    per = {"google-1": {"speed": speed(100, 500)}, "google-2": {"speed": speed(100, 500)}}
    decision = run(pool("google", 3, per=per), task_type="simple", quality="max_speed")
    assert chosen(decision) == "google@google-3"


def test_under_max_speed_a_never_measured_account_whose_first_call_is_running_waits_behind_the_measured() -> None:
    per: dict[str, dict[str, Any]] = {"google-1": {"speed": speed(100, 500)}, "google-3": {"in_flight": True}}
    decision = run(pool("google", 3, per=per), task_type="simple", quality="max_speed")
    assert [r.account for r in decision.ranked] == ["google-2", "google-1", "google-3"]
    measuring: dict[str, dict[str, Any]] = {"kimi": {"in_flight": True}, "zai": {"speed": speed(2000, 30)}}
    across = run([cand(p, **measuring[p]) for p in ("kimi", "zai")], task_type="simple", quality="max_speed")
    assert chosen(across) == "zai"


def test_every_mode_scores_latency_from_the_prediction() -> None:
    fast = run([cand("zai", speed=speed(100, 500))], task_type="simple").chosen
    slow = run([cand("zai", speed=speed(4000, 20))], task_type="simple").chosen
    assert fast is not None and slow is not None
    assert fast.score.latency > slow.score.latency


def test_max_latency_s_excludes_a_candidate_predicted_slower_but_not_one_without_history() -> None:
    per = {"openai": {"speed": speed(2000, 20)}}
    decision = run(everyone(3, **per), task_type="coding", max_latency_s=5.0, max_output_tokens=400)
    excluded = {x.account: (x.filter, x.detail) for x in decision.excluded}
    assert excluded["openai"][0] == "latency"
    assert "max_latency_s 5 s" in excluded["openai"][1]
    assert chosen(decision) == "anthropic"
    assert decision.reason == "latency"


def test_an_account_three_times_slower_than_its_pool_is_tried_last() -> None:
    per = {f"google-{i}": {"speed": speed(300, 200)} for i in (1, 2, 3)}
    per["google-1"] = {"speed": speed(3000, 20)}
    decision = run(pool("google", 3, per=per), task_type="simple")
    accounts = [r.account for r in decision.ranked]
    assert accounts[-1] == "google-1"
    assert [r.deranked for r in decision.ranked] == [False, False, True]
    assert any(line.startswith("google/") and "google-1 de-ranked" in line for line in decision.explanation)


def test_a_de_ranked_account_is_probed_once_its_pool_went_on_without_it() -> None:
    per = {f"google-{i}": {"speed": speed(300, 200)} for i in (1, 2, 3)}
    per["google-1"] = {"speed": speed(3000, 20, unobserved_for=PROBE_EVERY)}
    decision = run(pool("google", 3, per=per), task_type="simple")
    assert decision.ranked[0].account == "google-1"
    assert decision.ranked[0].probe and decision.ranked[0].deranked
    assert any(line.startswith("probing google/") for line in decision.explanation)


def test_under_max_speed_a_slower_account_whose_estimate_went_stale_is_probed_once() -> None:
    per = {"google-1": {"speed": speed(100, 500)}, "google-2": {"speed": speed(300, 500)}}
    per["google-3"] = {"speed": speed(300, 500, unobserved_for=PROBE_EVERY)}
    decision = run(pool("google", 3, per=per), task_type="simple", quality="max_speed")
    assert [(r.account, r.probe, r.deranked) for r in decision.ranked[:2]] == [
        ("google-3", True, False),
        ("google-1", False, False),
    ]
    assert any("probing google/" in line and "stale" in line for line in decision.explanation)


def test_a_stale_estimate_is_not_probed_outside_max_speed_nor_before_its_turn() -> None:
    fresh = speed(300, 500, unobserved_for=PROBE_EVERY - 1)
    stale = speed(300, 500, unobserved_for=PROBE_EVERY)
    members = [cand("google", "g1", speed=speed(100, 500)), cand("google", "g2", speed=fresh)]
    assert pool_flags(members, 400, max_speed=True).probes == frozenset()
    members[1] = cand("google", "g2", speed=stale)
    assert pool_flags(members, 400).probes == frozenset()
    assert pool_flags(members, 400, max_speed=True).probes == frozenset({"g2"})


def test_under_max_speed_a_slower_provider_the_whole_store_went_on_without_is_probed_once() -> None:
    slow = {"speed": speed(2000, 30)}
    per = {"zai": slow, "kimi": {"speed": speed(100, 500)}, "anthropic": slow}
    per |= {f"google-{i}": slow for i in (1, 2, 3)}
    fresh = run(everyone(3, **per, openai={"speed": speed(3000, 20)}), task_type="coding", quality="max_speed")
    stale = run(
        everyone(3, **per, openai={"speed": speed(3000, 20, stale_in_store=True)}),
        task_type="coding",
        quality="max_speed",
    )
    assert chosen(fresh) == "kimi" and not any(r.probe for r in fresh.ranked)
    assert [(r.provider, r.probe) for r in stale.ranked[:2]] == [("openai", True), ("kimi", False)]
    assert any(line.startswith("probing openai/") and "stale" in line for line in stale.explanation)


def test_a_provider_stale_in_the_store_is_not_probed_outside_max_speed() -> None:
    per = {"openai": {"speed": speed(3000, 20, stale_in_store=True)}, "kimi": {"speed": speed(100, 500)}}
    decision = run(everyone(3, **per), task_type="coding")
    assert not any(r.probe for r in decision.ranked)


def test_a_pool_is_probed_as_stale_in_the_store_only_when_every_healthy_account_is() -> None:
    slow = speed(3000, 20)
    one_stale = {"google-1": {"speed": speed(3000, 20, stale_in_store=True)}, "google-2": {"speed": slow}}
    all_stale = {f"google-{i}": {"speed": speed(3000 + i, 20, stale_in_store=True)} for i in (1, 2)}
    fast = cand("kimi", speed=speed(100, 500))
    partly = run([fast, *pool("google", 2, per=one_stale)], task_type="simple", quality="max_speed")
    wholly = run([fast, *pool("google", 2, per=all_stale)], task_type="simple", quality="max_speed")
    assert chosen(partly) == "kimi" and not any(r.probe for r in partly.ranked)
    assert [(r.account, r.probe) for r in wholly.ranked] == [
        ("google-1", True),  # the pool's faster member is the one probe
        ("google-2", False),
        ("kimi", False),
    ]


def test_no_probe_goes_to_an_account_with_a_call_in_flight_it_is_being_measured_already() -> None:
    deranked = speed(3000, 20, unobserved_for=PROBE_EVERY)
    stale = speed(300, 500, unobserved_for=PROBE_EVERY)
    fast = cand("google", "g1", speed=speed(100, 500))
    assert pool_flags([fast, cand("google", "g2", speed=deranked)], 400).probes == frozenset({"g2"})
    flags = pool_flags([fast, cand("google", "g2", speed=deranked, in_flight=True)], 400)
    assert flags.probes == frozenset() and flags.deranked == frozenset({"g2"})  # still tried last
    measuring = cand("google", "g2", speed=stale, in_flight=True)
    assert pool_flags([fast, measuring], 400, max_speed=True).probes == frozenset()
    slow = {"speed": speed(2000, 30)}
    per = {"zai": slow, "kimi": {"speed": speed(100, 500)}, "anthropic": slow}
    per |= {f"google-{i}": slow for i in (1, 2, 3)}
    running = {"speed": speed(3000, 20, stale_in_store=True), "in_flight": True}
    decision = run(everyone(3, **per, openai=running), task_type="coding", quality="max_speed")
    assert chosen(decision) == "kimi" and not any(r.probe for r in decision.ranked)


def test_a_probe_at_the_pools_pace_ends_the_de_rank() -> None:
    recovered = speed(3000, 20, last_ttft_ms=300, last_tokens_per_s=200)
    members = [cand("google", "g1", speed=recovered), cand("google", "g2", speed=speed(300, 200))]
    assert pool_flags(members, 400).deranked == frozenset()


def test_an_account_failing_half_its_recent_calls_is_de_ranked() -> None:
    members = [
        cand("google", "g1", speed=speed(300, 200, failure_ratio=0.5)),
        cand("google", "g2", speed=speed(300, 200)),
    ]
    assert pool_flags(members, 400).deranked == frozenset({"g1"})
