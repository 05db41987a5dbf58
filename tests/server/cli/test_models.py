"""`provider-router models`: each account's listing merged with the catalogue, through the CLI, on the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

from providers.catalog import load_catalog
from providers.simulator import Simulator
from server.cli.verbs import models as models_command
from tests.clock import fixed_epoch
from tests.harness import SIM_KEY, write_config
from tests.server.models_support import LINEUP, UNCATALOGUED_WINDOW, listing_accounts, listing_config
from tests.server.test_cli_support import SimHome


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    home = tmp_path / "home"
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(home))
    monkeypatch.setenv("SIM_KEY", SIM_KEY)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Simulator(listing_accounts(), clock=fixed_epoch)) as sim,
    ):
        write_config(home, listing_config(sim))
        yield SimHome(home, sim, capsys)


def _listing_requests(sim: Simulator) -> int:
    return sum(1 for account in ("oa", "an", "gm", "or") for r in sim.requests(account) if r.path.endswith("/models"))


def _rows(data: dict[str, Any], provider: str) -> dict[str, dict[str, Any]]:
    (account,) = [a for a in data["accounts"] if a["provider"] == provider]
    return {row["id"]: row for row in account["models"]}


@pytest.mark.parametrize("provider", list(LINEUP))
def test_models_json_marks_catalogued_uncatalogued_and_not_listed_models(env: SimHome, provider: str) -> None:
    run = env.cli("models", "--refresh", "--json")
    assert run.code == 0, run.err
    _, listed, extra, gone = LINEUP[provider]
    rows = _rows(run.json(), provider)
    assert {name: row["status"] for name, row in rows.items()} == {
        listed: "catalogued",
        extra: "uncatalogued",
        gone: "not listed",
    }
    known = load_catalog().get(provider, listed)
    assert known is not None
    assert rows[listed]["configured"] and rows[listed]["context_window"] == known.context_window  # catalogue facts
    assert rows[listed]["input_cost_per_1m"] == known.input_cost_per_1m
    assert not rows[extra]["configured"] and rows[extra]["input_cost_per_1m"] is None  # no price claimed
    # the listing's window where it gives one (Anthropic, Gemini), else a small default
    assert rows[extra]["context_window"] == (8192 if provider == "openai" else UNCATALOGUED_WINDOW)
    assert rows[gone]["configured"]


def test_an_openrouter_listing_gives_the_window_and_prices_of_a_model_the_catalogue_lacks(env: SimHome) -> None:
    rows = _rows(env.cli("models", "openrouter", "--refresh", "--json").json(), "openrouter")
    assert rows["vendor/model-a"]["status"] == "uncatalogued" and rows["vendor/model-a"]["configured"]
    assert rows["vendor/model-a"]["context_window"] == 65536


def test_listings_are_stored_and_reused_without_calling_the_provider_again(env: SimHome) -> None:
    assert env.cli("models", "--refresh", "--json").code == 0
    fetched = _listing_requests(env.sim)
    assert fetched == 1 + 2 + 2 + 1  # Anthropic and Gemini page one model at a time
    again = env.cli("models", "--json")
    assert again.code == 0
    assert _listing_requests(env.sim) == fetched
    assert all(account["fetched_at"] and not account["stale"] for account in again.json()["accounts"])


def test_models_before_any_refresh_says_how_to_get_a_listing_and_exits_1(env: SimHome) -> None:
    run = env.cli("models", "--json")
    assert run.code == 1
    assert all("models --refresh" in account["error"] for account in run.json()["accounts"])
    assert _listing_requests(env.sim) == 0


def test_a_refused_key_is_reported_on_its_account_only_and_never_printed(env: SimHome) -> None:
    env.sim.configure("an", api_key="another-key-0123456789")
    run = env.cli("models", "--refresh", "--json")
    assert run.code == 1
    errors = {account["provider"]: account["error"] for account in run.json()["accounts"]}
    assert errors["anthropic"] is not None and errors["anthropic"].startswith("auth_failed")
    assert errors["openai"] is None and errors["google"] is None
    assert SIM_KEY not in run.out + run.err


def test_a_provider_that_is_down_is_reported_and_its_last_listing_kept(env: SimHome) -> None:
    env.cli("models", "--refresh")
    env.sim.set_down("gm", "server_error")
    data = env.cli("models", "google", "--refresh", "--json").json()
    (account,) = data["accounts"]
    assert account["error"].startswith("server_error")
    assert {row["status"] for row in account["models"]} == {"catalogued", "uncatalogued", "not listed"}


def test_models_text_names_each_status_and_an_unknown_provider_exits_1(env: SimHome) -> None:
    run = env.cli("models", "anthropic", "--refresh")
    assert run.code == 0
    assert "anthropic · anthropic" in run.out
    assert "uncatalogued  claude-lab-preview" in run.out and "not listed    claude-opus-4-6" in run.out
    assert "autoDiscover" in run.out
    missing = env.cli("models", "nope", "--refresh")
    assert missing.code == 1 and "configured: openai, anthropic, google, openrouter" in missing.err


def test_refresh_prices_writes_the_overlay_and_holds_back_a_move_over_five_times(
    env: SimHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = {
        (model.provider, model.id): model
        for section in ("openai", "anthropic")
        for model in load_catalog().models(section)
    }

    def lookup(provider: str, model: str, as_of: date) -> dict[str, float | None]:
        profile = packaged.get((provider, model))
        if profile is None:
            raise LookupError(model)
        factor = {"gpt-5.2": 1.1, "claude-sonnet-4-6": 6.0}.get(model, 1.0)
        return {
            "input_cost_per_1m": profile.input_cost_per_1m * factor,
            "output_cost_per_1m": profile.output_cost_per_1m,
            "cache_read_cost_per_1m": profile.cache_read_cost_per_1m,
            "cache_write_cost_per_1m": profile.cache_write_cost_per_1m,
        }

    monkeypatch.setattr(models_command, "PRICE_LOOKUP", lookup)
    run = env.cli("models", "--refresh-prices", "--refresh", "--json")
    prices = run.json()["prices"]
    assert prices["applied"] == ["openai/gpt-5.2"]
    assert [line.split(" ")[0] for line in prices["held_back"]] == ["anthropic/claude-sonnet-4-6"]
    overlay = json.loads((env.home / "catalog.json").read_text())
    assert [m["id"] for m in overlay["providers"]["openai"]["models"]] == ["gpt-5.2"]
    rows = _rows(run.json(), "openai")
    gpt = load_catalog().get("openai", "gpt-5.2")
    assert gpt is not None and rows["gpt-5.2"]["input_cost_per_1m"] == pytest.approx(gpt.input_cost_per_1m * 1.1)


def test_a_malformed_overlay_stops_the_verb_with_the_file_and_the_fix(env: SimHome) -> None:
    (env.home / "catalog.json").write_text(
        '{"providers": {"openai": {"models": [{"id": "gpt-5.2", "context_window": 0}'
    )
    run = env.cli("models")
    assert run.code == 1
    assert str(env.home / "catalog.json") in run.err and "Fix: correct it" in run.err
