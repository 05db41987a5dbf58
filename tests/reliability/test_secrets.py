"""Keys stay secret: not in logs (DEBUG included), the database, resources, tool errors, the output of a killed
server, or the CLI's --json; the config and the database are private files; a literal key in providers.json is
refused with the fix and never echoed."""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

from providers.simulator import Simulator
from server.config.paths import Paths
from tests.clock import FixedClock, fixed_epoch
from tests.harness import ENV, SIM_KEY, write_config
from tests.reliability import tally
from tests.reliability.stdio import raw_server
from tests.reliability.support import BACKUP, live, matrix_accounts, matrix_config, text_of

RESOURCES = ("router://decisions", "router://metrics", "router://providers", "router://config")
#: the CLI verbs that print data, each with --json
CLI_JSON = (
    ["status", "--json"],
    ["list", "--json"],
    ["quota", "--json"],
    ["log", "--json"],
    ["keys", "list", "--json"],
    ["config", "show", "--json"],
    ["config", "validate", "--json"],
    ["ask", "Say hi", "--json"],
    ["ask", "Say hi", "--provider", "kimi", "--json"],
)


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


async def _exercise(home: Path, sim: Simulator) -> list[str]:
    """Successes, failovers, a refused key, a rejected request, every resource, then a SIGKILL mid-call."""
    seen: list[str] = []
    sim.configure("kimi", api_key="not-the-key-we-send")  # every call to kimi fails auth
    async with raw_server(home, {**ENV, "PROVIDER_ROUTER_LOG_LEVEL": "DEBUG"}) as server:
        with anyio.fail_after(30):
            sim.script("openai", ["rate_limited"])
            sim.script(BACKUP, ["server_error"])
            calls = (
                {"prompt": "Fix this function", "task_type": "coding", "provider": "openai"},
                {"prompt": "Say hi", "provider": "kimi"},
                {"prompt": "Say hi", "provider": "zai", "dry_run": True},
                {"prompt": "Why is the sky blue?", "task_type": "reasoning"},
            )
            seen += [json.dumps(await server.call("route_and_complete", arguments)) for arguments in calls]
            sim.script("anthropic", ["invalid"])
            seen.append(json.dumps(await server.call("route_and_complete", {"prompt": "x", "provider": "anthropic"})))
            seen += [json.dumps(await server.call(tool, {})) for tool in ("provider_status", "quota_report")]
            seen.append(json.dumps(await server.call("switch_provider", {"provider": "zai"})))
            log = await server.read_resource("router://decisions")
            ids = [d["id"] for d in json.loads(log["result"]["contents"][0]["text"])["decisions"]]
            uris = [*RESOURCES, *(f"router://decisions/{n}" for n in ids)]
            seen += [json.dumps(await server.read_resource(uri)) for uri in uris]
            sim.configure("zai", latency_ms=5000)
            async with anyio.create_task_group() as group:
                group.start_soon(server.call, "route_and_complete", {"prompt": "Say hi"})
                while sim.stats("zai").requests == 0:
                    await anyio.sleep(0.01)
                assert _private(home / "router.db") and _private(home / "router.db-wal")
                server.kill()
                group.cancel_scope.cancel()
            await server.process.wait()
        seen.append(server.stderr.decode(errors="replace"))
    assert "auth_failed" in "".join(seen) and "invalid_request" in "".join(seen)
    return seen


@asynccontextmanager
async def _simulator() -> AsyncIterator[Simulator]:
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        yield sim


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Simulator, Any]]:
    with start_blocking_portal("asyncio") as portal, portal.wrap_async_context_manager(_simulator()) as sim:
        write_config(tmp_path, matrix_config(sim))
        monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(tmp_path))
        monkeypatch.setenv("SIM_KEY", SIM_KEY)
        yield tmp_path, sim, portal


def _cli(argv: list[str]) -> str:
    from server.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv, clock=FixedClock())
    assert status in (0, 1), (argv, status, err.getvalue()[-500:])
    if "--json" in argv and status == 0:
        json.loads(out.getvalue())
    return out.getvalue() + err.getvalue()


def test_no_key_in_logs_database_resources_errors_crash_output_or_cli_json(
    cli_home: tuple[Path, Simulator, Any], caplog: pytest.LogCaptureFixture
) -> None:
    home, sim, portal = cli_home
    seen = portal.call(_exercise, home, sim)
    caplog.set_level(logging.DEBUG)
    seen += [_cli(argv) for argv in CLI_JSON]
    seen.append(caplog.text)
    files = {path.name: path.read_bytes() for path in home.iterdir() if path.is_file()}
    assert sum(sim.stats(a.id).succeeded for a in sim.spec.accounts) > 3  # the key did reach the providers
    assert not [text[:200] for text in seen if SIM_KEY in text]
    assert not [name for name, data in files.items() if SIM_KEY.encode() in data]
    assert b"SQLite format 3" in files["router.db"] and _private(home / "router.db")
    tally.record("inputs", len(seen), test="secrets outputs checked")


_LITERALS = {
    "openai": "sk-proj-Abcdefghijklmnop0123456789",
    "anthropic": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "google": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
}


@pytest.mark.anyio
@pytest.mark.parametrize("provider", _LITERALS)
async def test_a_config_holding_a_literal_key_is_refused_with_the_fix_and_never_echoed(
    tmp_path: Path, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    literal = _LITERALS[provider]
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim:
        config = matrix_config(sim)
        config["providers"][provider]["apiKey"] = literal
        async with live(tmp_path, sim, config) as s:
            with anyio.fail_after(20):
                status = await s.call("provider_status")
                routed = await s.call("route_and_complete", prompt="Say hi")
                shown = await s.read("router://config")
    problems = json.dumps(status.structured_content)
    assert "keys set" in problems and f"$.providers.{provider}.apiKey" in problems
    assert routed.is_error and "keys set" in text_of(routed)
    everything = problems + text_of(routed) + json.dumps(shown) + caplog.text
    everything += "".join(p.read_text(errors="replace") for p in tmp_path.iterdir() if p.name != "providers.json")
    assert literal not in everything
    tally.record("inputs", test=f"literal key {provider}")


@pytest.mark.anyio
async def test_the_config_the_router_writes_and_the_database_are_private_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)  # a home the user made readable to others: the files in it stay private
    async with Simulator(matrix_accounts(), clock=fixed_epoch) as sim, live(home, sim, matrix_config(sim)) as s:
        Paths.in_home(home).config_file.unlink()  # the router writes a new one
        with anyio.fail_after(20):
            result = await s.call("set_preference", budget_mode="cost_first")
            assert not result.is_error, text_of(result)
            written = Path((result.structured_content or {})["config_file"])
            database = [p for p in home.iterdir() if p.name.startswith("router.db")]
            modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [written, *database]}
            private = {p.name: _private(p) for p in [written, *database]}
    assert written.exists() and {"providers.json", "router.db", "router.db-wal"} <= set(modes)
    assert all(private.values()), modes
