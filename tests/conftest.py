"""Suite-wide guards: no network but loopback, anyio on asyncio."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The test command tries the same examples on every run, so a change is judged on its own: a property test that
# draws an unlucky new example must not sink an unrelated change. `HYPOTHESIS_PROFILE=explore` searches anew (README,
# under the test command); an example it finds is pinned with `@example`.
settings.register_profile("suite", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # unix sockets and socketpairs
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connection that is not to loopback: a test must never reach a real provider."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may not reach the network ({address!r})")
        real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"tests may not reach the network ({address!r})")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield


#: where the tests look for local model servers: a port nothing listens on, so the machine's own Ollama or LM Studio
#: never leaks into a test (a test that wants one starts a fake and points the variable at it)
UNREACHABLE = "http://127.0.0.1:1"


@pytest.fixture(autouse=True)
def no_local_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import dataclasses

    import providers.local as local

    monkeypatch.setenv("PROVIDER_ROUTER_OLLAMA_URL", UNREACHABLE)
    monkeypatch.setenv("PROVIDER_ROUTER_LMSTUDIO_URL", UNREACHABLE)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    servers = tuple(dataclasses.replace(server, default_url=UNREACHABLE) for server in local.LOCAL_SERVERS)
    monkeypatch.setattr(local, "LOCAL_SERVERS", servers)
    yield


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[Any]:
    """Every test gets an empty in-memory keychain unless it asks for the real one."""
    import keyring

    from tests.memory_keyring import MemoryKeyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real gnome-keyring Secret Service on a private D-Bus session (required in CI, skipped elsewhere)."""
    import os

    from tests.keychain import missing_tools, running_secret_service

    missing = missing_tools()
    if missing:
        message = f"the real keychain tests need {', '.join(missing)} (apt-get install gnome-keyring dbus-x11)"
        if os.environ.get("PROVIDER_ROUTER_REQUIRE_KEYCHAIN"):
            pytest.fail(message)
        pytest.skip(message)
    with running_secret_service(tmp_path_factory.mktemp("keyring-home")) as service:
        yield service


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL for the session (tests/postgres.py): started on first use, stopped at the end."""
    from tests.postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres: Any) -> str:
    """The name of a database holding every migration, to clone for each test's store."""
    import anyio

    from storage.database_url import Database
    from storage.db import Store

    url = postgres.create_database()

    async def migrate() -> None:
        with tempfile.TemporaryDirectory() as journal:
            store = await Store.open(Path(journal) / "router.db", database=Database("postgresql", url=url))
            await store.close()

    # on a thread of its own: the fixture may be asked for from inside a running event loop
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, migrate).result()
    return str(url.rsplit("/", 1)[1])
