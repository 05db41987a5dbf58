"""Account pools: round_robin follows the shared cursor, least_used the headroom, random a passed-in seed; an
exhausted or cooling account is skipped by the filters, so no call is wasted on it."""

from __future__ import annotations

import pytest

from routing.preferences import Preferences
from tests.routing.seed import LATER, cand, chosen, pool, run, window


def accounts(decision: object) -> list[str]:
    return [r.account for r in decision.ranked]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (0, ["google-1", "google-2", "google-3", "google-4", "google-5"]),
        (2, ["google-3", "google-4", "google-5", "google-1", "google-2"]),
        (4, ["google-5", "google-1", "google-2", "google-3", "google-4"]),
    ],
)
def test_round_robin_starts_at_the_shared_cursor_and_wraps(cursor: int, expected: list[str]) -> None:
    decision = run(pool("google", 5, cursor=cursor))
    assert accounts(decision) == expected
    assert [r.pool_position for r in decision.ranked] == [0, 1, 2, 3, 4]


def test_round_robin_skips_an_exhausted_account_at_the_cursor() -> None:
    decision = run(pool("google", 5, cursor=1, per={"google-2": {"exhausted_until": LATER}}))
    assert chosen(decision) == "google@google-3"
    assert [x.account for x in decision.excluded] == ["google-2"]


def test_least_used_prefers_the_account_with_the_most_left() -> None:
    per = {f"google-{i}": {"windows": (window("requests", "day", 20, left),)} for i, left in ((1, 3), (2, 17), (3, 9))}
    decision = run(pool("google", 3, strategy="least_used", per=per))
    assert accounts(decision) == ["google-2", "google-3", "google-1"]
    assert decision.ranked[0].account_headroom == pytest.approx(17 / 20)


def test_random_is_reproducible_for_a_seed_and_spreads_over_seeds() -> None:
    candidates = pool("google", 4, strategy="random", per={"google-4": {"cooldown_until": LATER}})
    first = {seed: chosen(run(candidates, seed=seed)) for seed in range(60)}
    assert first == {seed: chosen(run(candidates, seed=seed)) for seed in range(60)}
    assert set(first.values()) == {"google@google-1", "google@google-2", "google@google-3"}


def test_the_accounts_of_a_pool_are_tried_together_before_the_next_provider() -> None:
    candidates = [cand("kimi"), *pool("google", 3)]
    decision = run(candidates, prefs=Preferences(default="google"))
    assert accounts(decision) == ["google-1", "google-2", "google-3", "kimi"]


def test_a_pool_scores_its_mean_headroom_so_a_drained_pool_ranks_after_a_full_one() -> None:
    drained = pool("google", 2, per={f"google-{i}": {"windows": (window("requests", "day", 20, 1),)} for i in (1, 2)})
    full = cand("google", "other", profile=drained[0].model.model_copy(update={"id": "gemini-twin"}))
    decision = run([*drained, full], prefs=Preferences())
    assert decision.ranked[0].account == "other"
    assert decision.ranked[1].score.headroom == pytest.approx(0.05)
