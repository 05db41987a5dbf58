"""`provider-router cache stats|clear` against a temporary home and the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.test_cli_support import SimHome, sim_home


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    with sim_home(tmp_path, monkeypatch, capsys) as home:
        yield home


def test_cache_stats_counts_entries_and_hits_and_clear_empties_it(env: SimHome) -> None:
    assert env.cli("config", "set", "preferences.cache", '{"simple": 600, "maxMb": 2}').code == 0
    first = env.cli("ask", "Summarize this line", "--task", "simple", "--json").json()
    second = env.cli("ask", "Summarize this line", "--task", "simple", "--json").json()
    assert (first["cache_hit"], second["cache_hit"], second["reason"]) == (False, True, "cache")
    assert env.sim.stats("google-1").requests == 1
    stats = env.cli("cache", "stats", "--json").json()
    assert (stats["entries"], stats["hits"], stats["max_bytes"]) == (1, 1, 2 * 1024 * 1024)
    assert (
        stats["bytes"] > 0 and stats["tokens_saved"] == first["usage"]["input_tokens"] + first["usage"]["output_tokens"]
    )
    assert "1 cached answer(s)" in env.cli("cache", "stats").out
    assert env.cli("cache", "clear", "--json").json() == {"cleared": 1}
    after = env.cli("cache", "stats", "--json").json()
    assert (after["entries"], after["bytes"], after["hits"]) == (0, 0, 1)


def test_a_bad_cache_preference_names_the_fix(env: SimHome) -> None:
    run = env.cli("config", "set", "preferences.cache", '{"coding": "long"}')
    assert run.code == 1 and "preferences.cache.coding" in run.err
