"""A real Secret Service for keychain tests: a private D-Bus session with gnome-keyring, unlocked, fresh HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SecretService:
    bus_address: str
    home: Path


def _name_has_owner(env: dict[str, str]) -> bool:
    reply = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
         "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"],
        env=env, capture_output=True, text=True, timeout=5, check=False,
    )  # fmt: skip
    return "boolean true" in reply.stdout


def missing_tools() -> list[str]:
    return [tool for tool in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon") if shutil.which(tool) is None]


@contextmanager
def running_secret_service(home: Path) -> Iterator[SecretService]:
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home), "XDG_DATA_HOME": str(home / "data")}
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    daemon: subprocess.Popen[str] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )  # fmt: skip
        assert daemon.stdin is not None and daemon.stdout is not None
        daemon.stdin.write("test-password")
        daemon.stdin.close()
        # it prints its control socket once it is up; the bus name follows within moments
        daemon.stdout.readline()
        for _ in range(500):
            if _name_has_owner(env):
                break
        else:
            raise RuntimeError("gnome-keyring-daemon never claimed org.freedesktop.secrets")
        yield SecretService(bus_address=address, home=home)
    finally:
        for process in (daemon, bus):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
                if process.stdout is not None:
                    process.stdout.close()
