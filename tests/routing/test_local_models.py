"""A local model (Ollama, LM Studio) is a free candidate: `free_only` routes to it like a free tier."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from server.config.load import load_config
from tests.routing.seed import cand, chosen, excluded_by, prefs, run


def test_a_local_model_is_a_free_candidate_that_free_only_routes_to(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    local = {"ollama": {"models": {"qwen3-coder:30b": {"contextWindow": 32768}}}}
    path.write_text(json.dumps({"providers": local}))
    config = load_config(path, {}, today=date(2026, 12, 5))
    profile = config.providers["ollama"].models["qwen3-coder:30b"]
    assert profile.is_free and config.providers["ollama"].accounts[0].credential.source == "none"
    decision = run([cand("openai"), cand("ollama", profile=profile)], prefs=prefs(budget_mode="free_only"))
    assert chosen(decision) == "ollama"
    assert excluded_by(decision) == {"openai": "budget_mode"}
