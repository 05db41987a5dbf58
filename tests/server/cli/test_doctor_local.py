"""`doctor` lists the local model servers running on this machine with the models they list themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli.doctor import diagnose
from tests.clock import FixedClock
from tests.harness import ENV, simulated_home
from tests.local_fake import local_server

pytestmark = pytest.mark.anyio


async def test_doctor_lists_the_models_of_a_running_ollama(tmp_path: Path) -> None:
    async with (
        simulated_home(tmp_path, FixedClock()) as (_sim, paths),
        local_server(["qwen3-coder:30b", "llama3.2"]) as url,
    ):
        environ = {**ENV, "PROVIDER_ROUTER_OLLAMA_URL": url}
        report = await diagnose(paths, environ, offline=True, clock=FixedClock())
    (ollama,) = [check for check in report.checks if check.area == "local models"]
    assert ollama.name == "Ollama" and ollama.level == "ok"
    assert f"{url}: 2 model(s): llama3.2, qwen3-coder:30b" in ollama.detail
    assert "`provider-router setup` adds it" in ollama.detail  # the seed's configuration has no ollama entry


async def test_doctor_says_where_it_looked_when_no_local_server_runs(tmp_path: Path) -> None:
    async with simulated_home(tmp_path, FixedClock()) as (_sim, paths):
        report = await diagnose(paths, ENV, offline=True, clock=FixedClock())
    (none,) = [check for check in report.checks if check.area == "local models"]
    assert none.name == "none running" and "Ollama on http://127.0.0.1:1" in none.detail
