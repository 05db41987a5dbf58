"""Unknown price is not free: routing keeps a model without a known price out of free_only and prices its calls at
the stand-in, and a cost the provider reports is what a call is charged."""

from __future__ import annotations

import pytest

from providers.models import ModelProfile
from providers.types import Usage
from routing.cost import is_free_tier, usage_cost_usd
from tests.routing.seed import cand, chosen, excluded_by, model, prefs, run

#: a model nobody priced: the config's stand-in prices, flagged unknown
UNPRICED = model("openai", price_known=False, input_cost_per_1m=5.0, output_cost_per_1m=30.0)
#: the same with no stand-in at all: still not free
UNPRICED_ZERO = model("openai", price_known=False, input_cost_per_1m=0.0, output_cost_per_1m=0.0)
FREE = model("openai", input_cost_per_1m=0.0, output_cost_per_1m=0.0)
USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


@pytest.mark.parametrize("profile", [UNPRICED, UNPRICED_ZERO], ids=["stand-in", "zero"])
def test_a_model_without_a_known_price_is_excluded_by_free_only(profile: ModelProfile) -> None:
    decision = run([cand("openai", profile=profile), cand("google", "google-1", profile=model("google"))],
                   prefs=prefs(budget_mode="free_only"))  # fmt: skip
    assert excluded_by(decision)["openai"] == "budget_mode"


def test_a_model_known_to_cost_nothing_is_kept_by_free_only() -> None:
    decision = run([cand("openai", profile=FREE)], prefs=prefs(budget_mode="free_only"))
    assert chosen(decision) == "openai"


def test_a_model_without_a_known_price_is_never_free() -> None:
    assert not UNPRICED_ZERO.is_free
    assert not is_free_tier(UNPRICED_ZERO, None)
    assert FREE.is_free


def test_a_worst_case_above_the_budget_left_refuses_the_unpriced_model() -> None:
    decision = run([cand("openai", profile=UNPRICED, budget_left_usd=0.000001)])
    assert excluded_by(decision) == {"openai": "quota"}


def test_an_unpriced_call_is_charged_at_the_stand_in_when_the_provider_reports_nothing() -> None:
    assert usage_cost_usd(USAGE, UNPRICED) == pytest.approx(35.0)


def test_a_cost_the_provider_reports_is_what_the_call_is_charged() -> None:
    assert usage_cost_usd(USAGE, UNPRICED, reported=0.5) == 0.5
    assert usage_cost_usd(USAGE, FREE, free=True, reported=0.5) == 0.5
    assert usage_cost_usd(USAGE, FREE, free=True) == 0.0


@pytest.mark.parametrize("reported", [-1.0, float("nan"), float("inf")])
def test_an_impossible_reported_cost_falls_back_to_the_prices(reported: float) -> None:
    assert usage_cost_usd(USAGE, UNPRICED, reported=reported) == pytest.approx(35.0)


def test_a_reported_cost_of_zero_does_not_make_a_priced_model_free() -> None:
    priced = UNPRICED.model_copy(update={"price_known": True})
    assert usage_cost_usd(USAGE, priced, reported=0.0) == pytest.approx(35.0)  # its prices decide
    assert usage_cost_usd(USAGE, UNPRICED, reported=0.0) == 0.0  # the provider is the only source of a price
    assert usage_cost_usd(USAGE, FREE, free=True, reported=0.0) == 0.0
