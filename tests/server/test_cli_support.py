"""Helpers for the CLI tests: the test world's simulator and home (tests/harness.py) served from a background thread
(the CLI runs its own event loop per verb), and `cli()` to run one verb and capture what it printed.

Also `FileKeyring`: a keyring backend kept in a JSON file, so separate processes (the tmux test) share keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from providers.simulator import Simulator
from server.cli import main
from tests.clock import FixedClock, fixed_epoch
from tests.harness import SIM_KEY, seed_accounts, simulated_home


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class SimHome:
    home: Path
    sim: Simulator
    capsys: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> Run:
        """Run one verb as `provider-router ARGV...` and capture its output."""
        self.capsys.readouterr()
        code = main(list(argv), clock=FixedClock())
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)


@contextmanager
def running_seed_sim(google_daily: int = 20) -> Iterator[Simulator]:
    """The seed's simulator served from a background thread, for code that runs its own event loop."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Simulator(seed_accounts(google_daily), clock=fixed_epoch)) as sim,
    ):
        yield sim


@contextmanager
def sim_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **preferences: Any
) -> Iterator[SimHome]:
    """A temporary PROVIDER_ROUTER_HOME holding the seed's providers.json pointed at a running simulator."""
    home = tmp_path / "home"
    monkeypatch.setenv("PROVIDER_ROUTER_HOME", str(home))
    monkeypatch.setenv("SIM_KEY", SIM_KEY)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(simulated_home(home, FixedClock(), **preferences)) as (sim, _paths),
    ):
        yield SimHome(home, sim, capsys)


class FileKeyring(KeyringBackend):
    """Keys in the JSON file named by $FILE_KEYRING (tests only: plain text)."""

    priority = 1

    def _path(self) -> Path:
        return Path(os.environ["FILE_KEYRING"])

    def _load(self) -> dict[str, str]:
        path = self._path()
        loaded: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return loaded

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(entries))
