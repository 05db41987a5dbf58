"""The user's catalog.json in the App: its facts reach the configuration in force, and a broken one names its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.wiring.app import open_app
from tests.clock import FixedClock
from tests.harness import ENV, write_config

pytestmark = pytest.mark.anyio
CONFIG = {"providers": {"openai": {"apiKey": "${SIM_KEY}", "models": {"gpt-5.2": {}, "gpt-private-1": {}}}}}
OVERLAY = {
    "providers": {
        "openai": {
            "models": [
                {"id": "gpt-5.2", "context_window": 123456},
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


async def test_a_model_added_and_a_window_corrected_in_the_overlay_are_in_force(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", CONFIG)
    paths.catalog_file.write_text(json.dumps(OVERLAY))
    async with open_app(paths, ENV, clock=FixedClock()) as app:
        models = app.config.providers["openai"].models
        problem = app.problem
    assert problem is None
    assert models["gpt-5.2"].context_window == 123456
    assert (models["gpt-private-1"].context_window, models["gpt-private-1"].output_cost_per_1m) == (64000, 2.0)


async def test_a_broken_overlay_is_the_apps_problem_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", CONFIG)
    paths.catalog_file.write_text('{"providers": []}')
    async with open_app(paths, ENV, clock=FixedClock()) as app:
        problem = app.problem
        paths.catalog_file.write_text(json.dumps(OVERLAY))
        app.refresh()  # a fixed overlay is picked up like an edited providers.json
        fixed = app.problem
    assert problem is not None and str(paths.catalog_file) in problem and "Fix: correct it" in problem
    assert fixed is None
