"""A model's price nobody gave is unknown, and unknown is not free: such a model is paid at a conservative stand-in
and the configuration warns with the fix; a model said to be free, and a local provider's models, stay free."""

from __future__ import annotations

from datetime import date
from typing import Any

from providers.catalog import load_catalog
from providers.models import ModelProfile
from server.config.load import RouterConfig, config_from_data

TODAY = date(2026, 11, 28)
ENV = {"OPENROUTER_API_KEY": "sk-or-test", "CUSTOM_KEY": "k"}
MODEL = "someone/new-model"


def load(providers: dict[str, Any]) -> RouterConfig:
    return config_from_data({"providers": providers}, source="providers.json", environ=ENV, today=TODAY)


def model_of(config: RouterConfig, provider: str) -> ModelProfile:
    return config.providers[provider].models[MODEL]


def openrouter(model: dict[str, Any], **block: Any) -> dict[str, Any]:
    return {"openrouter": {"apiKey": "${OPENROUTER_API_KEY}", "models": {MODEL: model}, **block}}


def test_an_uncatalogued_model_without_prices_is_paid_at_the_catalogues_highest_prices() -> None:
    config = load(openrouter({"contextWindow": 32_000}))
    model = model_of(config, "openrouter")
    highest = load_catalog().highest_prices("openrouter")
    assert not model.price_known and not model.is_free
    assert (model.input_cost_per_1m, model.output_cost_per_1m) == highest
    assert min(highest) > 0


def test_the_missing_price_is_a_warning_naming_both_fixes() -> None:
    warnings = load(openrouter({"contextWindow": 32_000})).warnings
    found = [w for w in warnings if "no price known" in w]
    assert len(found) == 1
    assert MODEL in found[0] and "free_only" in found[0]
    assert '"inputCostPer1M" and "outputCostPer1M"' in found[0] and '"freeTier": true' in found[0]


def test_a_model_with_both_prices_given_has_a_known_price_and_no_warning() -> None:
    config = load(openrouter({"contextWindow": 32_000, "inputCostPer1M": 0.2, "outputCostPer1M": 0.6}))
    model = model_of(config, "openrouter")
    assert model.price_known and (model.input_cost_per_1m, model.output_cost_per_1m) == (0.2, 0.6)
    assert not [w for w in config.warnings if "no price known" in w]


def test_a_model_given_zero_prices_is_free() -> None:
    model = model_of(load(openrouter({"contextWindow": 8_000, "costPer1M": 0})), "openrouter")
    assert model.price_known and model.is_free


def test_only_the_missing_price_gets_the_stand_in() -> None:
    model = model_of(load(openrouter({"contextWindow": 8_000, "inputCostPer1M": 0})), "openrouter")
    assert not model.price_known and not model.is_free
    assert model.input_cost_per_1m == 0 and model.output_cost_per_1m == load_catalog().highest_prices("openrouter")[1]


def test_a_model_said_to_have_a_free_tier_stays_free_without_prices() -> None:
    config = load(openrouter({"contextWindow": 8_000, "freeTier": True}))
    model = model_of(config, "openrouter")
    assert model.price_known and model.free_tier
    assert not [w for w in config.warnings if "no price known" in w]


def test_a_paying_vendor_behind_a_loopback_address_is_still_paid() -> None:
    model = model_of(load(openrouter({"contextWindow": 8_000}, baseUrl="http://127.0.0.1:4000/v1")), "openrouter")
    assert not model.price_known


def test_models_of_local_providers_stay_free_by_default() -> None:
    config = load(
        {
            "ollama": {"models": {MODEL: {"contextWindow": 8_000}}},
            "mine": {"kind": "openai", "baseUrl": "http://localhost:8080/v1", "apiKey": "${CUSTOM_KEY}",
                     "models": {MODEL: {"contextWindow": 8_000}}},
            "lan": {"kind": "openai", "baseUrl": "http://192.168.1.5:8080/v1", "apiKey": "none",
                    "models": {MODEL: {"contextWindow": 8_000}}},
            "v6": {"kind": "openai", "baseUrl": "http://[::1]:8080/v1", "apiKey": "${CUSTOM_KEY}",
                   "models": {MODEL: {"contextWindow": 8_000}}},
        }
    )  # fmt: skip
    for provider in ("ollama", "mine", "lan", "v6"):
        model = model_of(config, provider)
        assert model.price_known and model.is_free, provider
    assert not [w for w in config.warnings if "no price known" in w]


def test_a_remote_unknown_vendor_without_prices_gets_the_whole_catalogues_highest_prices() -> None:
    config = load(
        {"remote": {"kind": "openai", "baseUrl": "https://llm.example.com/v1", "apiKey": "${CUSTOM_KEY}",
                    "models": {MODEL: {"contextWindow": 8_000}}}}
    )  # fmt: skip
    model = model_of(config, "remote")
    catalog = load_catalog()
    everything = [e.profile for p in catalog.providers.values() for e in p.entries]
    assert not model.price_known
    assert model.output_cost_per_1m == max(m.output_cost_per_1m for m in everything)
