"""The bundled model catalogue: every entry valid, lifecycle facts flagged, prices equal to genai-prices'."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from providers.catalog import (
    CATALOG_PATH,
    GENAI_PRICES,
    Catalog,
    CatalogError,
    genai_prices_for,
    load_catalog,
    parse_catalog,
    price_timestamp,
    refresh_prices,
)
from providers.models import TASK_TYPES
from providers.vendors import VENDORS

TODAY = date(2026, 11, 28)


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return data


def test_every_catalogue_entry_is_a_valid_model_profile_with_scores_for_every_task_type() -> None:
    catalog = load_catalog()
    for provider in catalog.providers:
        models = catalog.models(provider)
        assert models, provider
        for model in models:
            assert model.provider == provider
            assert set(model.quality) == set(TASK_TYPES), model.id
            assert all(0 <= score <= 100 for score in model.quality.values())
            assert model.max_output_tokens <= model.context_window


def test_the_catalogue_covers_each_known_vendors_catalogue_id_that_has_hosted_models() -> None:
    catalog = load_catalog()
    for required in ("openai", "anthropic", "google", "zai", "moonshot"):
        assert catalog.current_models(required, TODAY), required
    hosted = {vendor.catalog for vendor in VENDORS.values() if vendor.needs_key} - {"openrouter"}
    assert hosted <= set(catalog.providers)


@pytest.mark.parametrize(
    ("provider", "model", "retired_on", "replacement"),
    [
        ("openai", "gpt-4.1-nano", "2026-10-23", "gpt-5.4-nano"),
        ("openai", "gpt-4o-2024-05-13", "2026-10-23", "gpt-5.1"),
        ("openai", "gpt-5", "2026-12-11", "gpt-5.1"),
        ("openai", "gpt-5-mini", "2026-12-11", "gpt-5.4-mini"),
        ("openai", "gpt-5-nano", "2026-12-11", "gpt-5.4-nano"),
        ("openai", "gpt-4o", "2027-01-14", "gpt-5.1"),
        ("openai", "gpt-4o-mini", "2027-01-14", "gpt-5.4-mini"),
        ("openai", "gpt-4.1", "2027-01-14", "gpt-5.1"),
        ("openai", "gpt-4.1-mini", "2027-01-14", "gpt-5.4-mini"),
        ("anthropic", "claude-3.5-sonnet", "2025-10-22", "claude-sonnet-4-6"),
        ("anthropic", "claude-sonnet-4-20250514", "2026-06-15", "claude-sonnet-4-6"),
        ("google", "gemini-2.5-flash", "2026-12-01", "gemini-3.5-flash-lite"),
        ("google", "gemini-2.5-pro", "2026-12-01", "gemini-3.8-flash"),
        ("google", "gemini-2.0-flash", "2026-03-03", "gemini-3.5-flash-lite"),
        ("moonshot", "kimi-k2", "2026-05-25", "kimi-k2.6"),
        ("moonshot", "kimi-k2.6", "2026-12-31", "kimi-k3.1-pro"),
    ],
)
def test_lifecycle_dates_and_replacements_match_the_provider_facts(
    provider: str, model: str, retired_on: str, replacement: str
) -> None:
    profile = load_catalog().get(provider, model)
    assert profile is not None
    assert profile.retired_on == date.fromisoformat(retired_on)
    assert profile.replacement == replacement
    assert load_catalog().get(provider, replacement) is not None


def test_retired_models_are_flagged_as_of_the_given_day() -> None:
    catalog = load_catalog()
    assert catalog.is_retired("anthropic", "claude-3-5-sonnet", TODAY)
    assert catalog.is_retired("google", "gemini-2.0-flash", TODAY)
    assert not catalog.is_retired("google", "gemini-2.5-flash", TODAY)
    assert catalog.is_retired("google", "gemini-2.5-flash", date(2026, 12, 1))
    assert not catalog.is_retired("openai", "no-such-model", TODAY)
    current = {model.id for model in catalog.current_models("openai", TODAY)}
    assert "gpt-4.1-nano" not in current
    assert {"gpt-4o", "gpt-5.1", "gpt-5.2"} <= current


@pytest.mark.parametrize(
    ("provider", "name", "canonical"),
    [
        ("zai", "glm-4.7", "glm-4.7"),
        ("moonshot", "kimi-2.5", "kimi-k2.5"),
        ("kimi", "kimi-k2.5", "kimi-k2.5"),
        ("google", "gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini", "GEMINI-2.5-FLASH", "gemini-2.5-flash"),
        ("openai", "gpt-4o", "gpt-4o"),
        ("anthropic", "claude-3.5-sonnet", "claude-3-5-sonnet-20241022"),
        ("zhipu", "glm-5.3", "glm-5.3"),
    ],
)
def test_the_seeds_model_names_resolve_through_aliases_and_vendor_ids(provider: str, name: str, canonical: str) -> None:
    profile = load_catalog().get(provider, name)
    assert profile is not None
    assert profile.id == canonical


def test_replacement_follows_the_chain_to_a_model_that_still_serves() -> None:
    catalog = load_catalog()
    direct = catalog.replacement("moonshot", "kimi-k2")
    assert direct is not None and direct.id == "kimi-k2.6"
    served = catalog.replacement("moonshot", "kimi-k2", date(2027, 2, 1))
    assert served is not None and served.id == "kimi-k3.1-pro"
    assert catalog.replacement("openai", "gpt-5.2") is None
    assert catalog.replacement("openai", "unknown") is None


def test_known_context_windows_match_the_provider_facts() -> None:
    catalog = load_catalog()
    expected = {("openai", "gpt-4o"): 128_000, ("google", "gemini-2.5-flash"): 1_048_576, ("zai", "glm-5.3"): 1_000_000}
    for (provider, model), window in expected.items():
        profile = catalog.get(provider, model)
        assert profile is not None and profile.context_window == window


def test_prices_not_from_genai_prices_name_their_source() -> None:
    for section in _raw()["providers"].values():
        for model in section["models"]:
            assert model["price_source"], model["id"]


def test_google_free_tier_defaults_reset_at_midnight_pacific() -> None:
    google = load_catalog().provider("google")
    assert google is not None and google.free_tier_quota is not None
    assert google.quota_timezone == "America/Los_Angeles"
    assert google.free_tier_quota.requests_per_day == 20


def _genai_models() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (section["genai_prices_provider"], model.get("genai_prices_model", model["id"]), model)
        for section in _raw()["providers"].values()
        for model in section["models"]
        if model["price_source"] == GENAI_PRICES
    ]


def _unit_price(genai_provider: str, ref: str, when: datetime, **tokens: int) -> Decimal:
    from genai_prices import Usage, calc_price

    result = calc_price(Usage(**tokens), ref, provider_id=genai_provider, genai_request_timestamp=when)
    return Decimal(result.total_price) * 1000  # 1,000 tokens -> per 1M, below every long-context tier


@pytest.mark.parametrize(("genai_provider", "ref", "model"), _genai_models(), ids=lambda value: str(value)[:40])
def test_stored_prices_equal_genai_prices_for_every_model_it_knows(
    genai_provider: str, ref: str, model: dict[str, Any]
) -> None:
    when = price_timestamp(date.fromisoformat(_raw()["prices_as_of"]))

    def close(stored: float | None, expected: Decimal) -> bool:
        return stored is not None and abs(Decimal(str(stored)) - expected) < Decimal("1e-9")

    assert close(model["input_cost_per_1m"], _unit_price(genai_provider, ref, when, input_tokens=1000))
    assert close(model["output_cost_per_1m"], _unit_price(genai_provider, ref, when, output_tokens=1000))
    cache_read = _unit_price(genai_provider, ref, when, input_tokens=1000, cache_read_tokens=1000)
    cache_write = _unit_price(genai_provider, ref, when, input_tokens=1000, cache_write_tokens=1000)
    # genai-prices bills cache tokens at the input price when the model has no cache price; we store None then
    read_stored = model["cache_read_cost_per_1m"]
    write_stored = model["cache_write_cost_per_1m"]
    assert close(read_stored, cache_read) if read_stored is not None else cache_read == _input(model)
    assert close(write_stored, cache_write) if write_stored is not None else cache_write == _input(model)


def _input(model: dict[str, Any]) -> Decimal:
    return Decimal(str(model["input_cost_per_1m"]))


def test_refresh_prices_rewrites_a_stale_price_and_reports_it(tmp_path: Path) -> None:
    data = _raw()
    data["providers"]["openai"]["models"][0]["input_cost_per_1m"] = 999.0
    copy = tmp_path / "catalog.json"
    copy.write_text(json.dumps(data), encoding="utf-8")
    changed = refresh_prices(date.fromisoformat(data["prices_as_of"]), copy)
    assert changed == [data["providers"]["openai"]["models"][0]["id"]]
    assert json.loads(copy.read_text(encoding="utf-8")) == _raw()


def test_loading_the_catalogue_does_not_import_genai_prices() -> None:
    code = "import sys, providers.catalog as c; c.load_catalog(); print('genai_prices' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_malformed_catalogue_raises_catalog_error() -> None:
    data = _raw()
    data["providers"]["openai"]["models"][0]["context_window"] = -1
    with pytest.raises(CatalogError):
        parse_catalog(data)
    with pytest.raises(CatalogError):
        parse_catalog({"providers": {}})


def test_an_unknown_provider_has_no_models() -> None:
    catalog: Catalog = load_catalog()
    assert catalog.models("nobody") == ()
    assert catalog.get("nobody", "gpt-4o") is None
    assert catalog.provider("nobody") is None


def test_models_priced_from_another_source_are_unknown_to_genai_prices() -> None:
    as_of = date.fromisoformat(_raw()["prices_as_of"])
    for section in _raw()["providers"].values():
        for model in section["models"]:
            if model["price_source"] != GENAI_PRICES:
                with pytest.raises(LookupError):
                    genai_prices_for(section["genai_prices_provider"], model["id"], as_of)
