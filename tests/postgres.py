"""A real PostgreSQL for the tests, started from Debian's `postgresql` package and torn down after the session.

`initdb` and `pg_ctl` run as the `postgres` user when the tests run as root (CI does), directly otherwise, on a
temporary directory, a free loopback port and a socket in that directory. Each test gets a database of its own
(`fresh_database`), cloned from a migrated template for the stores of the contract tests (`migrated_database`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

INSTALL_HINT = (
    "PostgreSQL is needed by the store's contract tests and was not found. Fix: install Debian's package "
    "(`apt-get install -y postgresql`, which provides initdb and pg_ctl under /usr/lib/postgresql/*/bin), or put "
    "its bin directory on PATH."
)


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(INSTALL_HINT)


def machine_clock_environ() -> dict[str, str]:
    """This environment without libfaketime: the server runs on the machine's clock (under a moved clock its lock
    timeouts never fire), like every server the tests start."""
    return {
        name: value for name, value in os.environ.items() if name != "LD_PRELOAD" and not name.startswith("FAKETIME")
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running cluster: `url(db)` reaches database `db` over loopback TCP."""

    bindir: Path
    root: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _command(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self.as_postgres else list(args)

    def start(self) -> None:
        initdb = self._command(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        env = machine_clock_environ()
        subprocess.run([*initdb, "-E", "UTF8", "--no-instructions"], check=True, capture_output=True, env=env)
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        start = self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l")
        subprocess.run(
            [*start, str(self.root / "log"), "-w", "-t", "60", "start"], check=True, capture_output=True, env=env
        )

    def stop(self) -> None:
        stop = self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        subprocess.run(stop, check=False, capture_output=True, env=machine_clock_environ())
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)


def start_postgres() -> PostgresServer:
    """Start a throwaway cluster (raises with the install hint when PostgreSQL is missing)."""
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="router-pg-"))
    if as_postgres:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, root, _free_port(), as_postgres)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {error.stderr!r} {log}") from error
    return server
