"""The benchmark's stage: a simulator in its own process, a temporary home with a providers.json, the App over it."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio

from bench.common import PROJECT_PYTHON, ROOT
from providers.clock import Clock, system_clock
from providers.simulator import SimAccount, SimSpec
from server.config.paths import Paths
from server.wiring.app import App, open_app

SIM_KEY = "sim-bench-key-0123456789"
ENV: Mapping[str, str] = {"SIM_KEY": SIM_KEY}
#: the model every speed benchmark asks for (the router's own choice among one candidate)
MODEL = "gpt-5.2"
PROMPT = "Rename the variable `x` to `count` in this Python function and return only the code."


class SimProcess:
    """`python -m providers.simulator` in its own process, so the client under test has a core to itself."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def base_url(self, account: str, kind: str = "openai") -> str:
        suffix = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}[kind]
        return f"{self.url}/{account}{suffix}"


@contextmanager
def sim_process(accounts: list[SimAccount]) -> Iterator[SimProcess]:
    """Start a simulator process for `accounts`; stopped (by its pid) when the block ends."""
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(SimSpec(accounts=tuple(accounts)).model_dump_json())
        process = subprocess.Popen(
            [str(PROJECT_PYTHON), "-m", "providers.simulator", "--spec", str(spec_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("READY "):
                raise RuntimeError(f"the simulator did not start: {line!r}")
            yield SimProcess(process, line.removeprefix("READY "))
        finally:
            process.terminate()
            process.wait(timeout=10)


def speed_accounts() -> list[SimAccount]:
    """Two OpenAI-wire accounts at 0 ms latency with a short fixed reply (the peers get the same two)."""
    return [SimAccount(id=f"oa{n}", kind="openai", api_key=SIM_KEY, output_tokens=16) for n in (1, 2)]


def single_provider_config(base_url: str, *, model: str = MODEL) -> dict[str, Any]:
    """One provider, one account, one model: the router has exactly one candidate, like a plain client."""
    return {
        "providers": {"openai": {"baseUrl": base_url, "apiKey": "${SIM_KEY}", "models": {model: {}}}},
        "preferences": {"default": "openai", "budgetMode": "quality_first"},
    }


def write_home(home: Path, config: dict[str, Any]) -> Paths:
    """A PROVIDER_ROUTER_HOME holding `config` as providers.json."""
    paths = Paths.in_home(home)
    home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(json.dumps(config, indent=2))
    return paths


@asynccontextmanager
async def bench_app(config: dict[str, Any], *, clock: Clock = system_clock) -> AsyncIterator[App]:
    """An App over a fresh temporary home with `config` (on the machine's clock unless a simulated day gives its
    own); fails loudly if the configuration is refused."""
    with tempfile.TemporaryDirectory(prefix="bench-home-") as tmp:
        paths = write_home(Path(tmp), config)
        async with open_app(paths, ENV, clock=clock) as app:
            if app.problem is not None:
                raise RuntimeError(f"the benchmark's configuration is refused: {app.problem}")
            yield app


def chat_body(model: str = MODEL, *, stream: bool, prompt: str = PROMPT) -> dict[str, Any]:
    """The OpenAI chat body a plain client sends (streamed the way our adapter streams)."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 256}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


async def wait_port_free() -> None:
    """Yield to the loop once: lets closed connections finish before the next phase starts."""
    await anyio.sleep(0)
