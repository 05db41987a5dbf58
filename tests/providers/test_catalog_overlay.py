"""The user's catalog.json: merged over the packaged catalogue, clear when malformed, prices refreshed with a guard.

Prices come from an injected lookup, never from the installed genai-prices (its data changes between versions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from providers.catalog import load_catalog
from providers.catalog_overlay import OverlayError, load_user_catalog, packaged_data, refresh_overlay_prices

AS_OF = date(2026, 11, 28)


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_no_overlay_means_the_packaged_catalogue_alone(tmp_path: Path) -> None:
    assert load_user_catalog(tmp_path / "catalog.json") is None


def test_an_overlay_corrects_a_price_and_a_window_and_adds_a_model(tmp_path: Path) -> None:
    overlay = {
        "providers": {
            "openai": {
                "models": [
                    {"id": "gpt-5.2", "input_cost_per_1m": 1.0, "context_window": 500000},
                    {
                        "id": "gpt-private-1",
                        "context_window": 64000,
                        "max_output_tokens": 8000,
                        "input_cost_per_1m": 0.5,
                        "output_cost_per_1m": 2.0,
                        "price_source": "my contract",
                    },
                ]
            }
        }
    }
    catalog = load_user_catalog(_write(tmp_path / "catalog.json", overlay))
    assert catalog is not None
    corrected, packaged = catalog.get("openai", "gpt-5.2"), load_catalog().get("openai", "gpt-5.2")
    assert corrected is not None and packaged is not None
    assert (corrected.input_cost_per_1m, corrected.context_window) == (1.0, 500000)
    assert corrected.output_cost_per_1m == packaged.output_cost_per_1m  # fields not given stay the package's
    added = catalog.get("openai", "gpt-private-1")
    assert added is not None and added.context_window == 64000
    assert catalog.get("anthropic", "claude-sonnet-4-6") == load_catalog().get("anthropic", "claude-sonnet-4-6")


def test_an_overlay_entry_may_name_a_model_by_its_alias(tmp_path: Path) -> None:
    overlay = {"providers": {"openai": {"models": [{"id": "gpt-4o-2024-08-06", "output_cost_per_1m": 9.0}]}}}
    catalog = load_user_catalog(_write(tmp_path / "catalog.json", overlay))
    assert catalog is not None
    model = catalog.get("openai", "gpt-4o")
    assert model is not None and model.output_cost_per_1m == 9.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"providers": {', "not valid JSON (line 1"),
        ('["a list"]', 'expected an object with a "providers" object'),
        ('{"providers": {"openai": {"models": [{"name": "x"}]}}}', 'each with an "id"'),
        ('{"providers": {"openai": {"models": [{"id": "new-model"}]}}}', "merged over the packaged catalogue"),
        ('{"providers": {"openai": {"models": [{"id": "gpt-5.2", "context_window": -1}]}}}', "invalid"),
    ],
)
def test_a_malformed_overlay_is_an_error_naming_the_file_and_the_fix(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = _write(tmp_path / "catalog.json", content)
    with pytest.raises(OverlayError) as caught:
        load_user_catalog(path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert "Fix: correct it" in message and "move it aside" in message


# --------------------------------------------------------------------------------------------------- prices


def _lookup(prices: Mapping[str, tuple[float, float]]) -> Any:
    """A price lookup that knows `prices` (model -> input, output) and keeps every other model's packaged price."""
    packaged = {
        (section["genai_prices_provider"], model.get("genai_prices_model", model["id"])): model
        for section in packaged_data()["providers"].values()
        if section.get("genai_prices_provider")
        for model in section["models"]
    }

    def lookup(provider: str, model: str, as_of: date) -> dict[str, float | None]:
        assert as_of == AS_OF
        if model == "gpt-5.4":
            raise LookupError(model)
        entry = packaged[(provider, model)]
        current = {key: entry.get(key) for key in ("cache_read_cost_per_1m", "cache_write_cost_per_1m")}
        if model in prices:
            inp, out = prices[model]
            return {"input_cost_per_1m": inp, "output_cost_per_1m": out, **current}
        return {"input_cost_per_1m": entry["input_cost_per_1m"], "output_cost_per_1m": entry["output_cost_per_1m"]} | (
            current
        )

    return lookup


def test_refreshed_prices_go_into_the_overlay_and_a_move_over_five_times_is_held_back(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    packaged = load_catalog()
    sonnet, opus = packaged.get("anthropic", "claude-sonnet-4-6"), packaged.get("anthropic", "claude-opus-4-6")
    assert sonnet is not None and opus is not None
    new_sonnet = (sonnet.input_cost_per_1m * 1.2, sonnet.output_cost_per_1m * 1.2)
    absurd_opus = (opus.input_cost_per_1m * 10, opus.output_cost_per_1m)
    result = refresh_overlay_prices(
        path, AS_OF, _lookup({"claude-sonnet-4-6": new_sonnet, "claude-opus-4-6": absurd_opus})
    )
    assert result.applied == ["anthropic/claude-sonnet-4-6"]
    assert len(result.held_back) == 1 and result.held_back[0].startswith("anthropic/claude-opus-4-6")
    assert "more than 5x" in result.held_back[0]
    assert result.unknown == ["openai/gpt-5.4"]
    catalog = load_user_catalog(path)
    assert catalog is not None
    refreshed, held = catalog.get("anthropic", "claude-sonnet-4-6"), catalog.get("anthropic", "claude-opus-4-6")
    assert refreshed is not None and held is not None
    assert (refreshed.input_cost_per_1m, refreshed.output_cost_per_1m) == pytest.approx(new_sonnet)
    assert held.input_cost_per_1m == opus.input_cost_per_1m
    assert json.loads(path.read_text())["prices_as_of"] == AS_OF.isoformat()
    assert load_catalog().get("anthropic", "claude-sonnet-4-6") == sonnet  # the packaged file is untouched


def test_a_refresh_that_changes_nothing_writes_no_overlay(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    result = refresh_overlay_prices(path, AS_OF, _lookup({}))
    assert result.applied == [] and result.unchanged > 0
    assert not path.exists()


def test_a_refresh_keeps_what_the_user_wrote_in_the_overlay(tmp_path: Path) -> None:
    mine = {"id": "gpt-private-1", "context_window": 64000, "max_output_tokens": 8000, "price_source": "contract"}
    path = _write(tmp_path / "catalog.json", {"providers": {"openai": {"models": [mine]}}})
    sonnet = load_catalog().get("anthropic", "claude-sonnet-4-6")
    assert sonnet is not None
    refresh_overlay_prices(path, AS_OF, _lookup({"claude-sonnet-4-6": (sonnet.input_cost_per_1m * 2, 1.0 * 20)}))
    data = json.loads(path.read_text())
    assert mine in data["providers"]["openai"]["models"]
    assert load_user_catalog(path) is not None


def test_a_paid_model_whose_refreshed_price_is_zero_or_missing_is_held_back_not_made_free(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    sonnet = load_catalog().get("anthropic", "claude-sonnet-4-6")
    assert sonnet is not None and sonnet.input_cost_per_1m > 0
    result = refresh_overlay_prices(path, AS_OF, _lookup({"claude-sonnet-4-6": (0.0, 0.0)}))
    assert [line.split(" ")[0] for line in result.held_back] == ["anthropic/claude-sonnet-4-6"]
    assert "anthropic/claude-sonnet-4-6" not in result.applied
    catalog = load_user_catalog(path) or load_catalog()
    kept = catalog.get("anthropic", "claude-sonnet-4-6")
    assert kept is not None and not kept.is_free and kept.input_cost_per_1m == sonnet.input_cost_per_1m
