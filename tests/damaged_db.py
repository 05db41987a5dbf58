"""Ways a home's router.db goes wrong from outside, for the tests: damaged pages, a lock held by another
connection, an unwritable (immutable) file."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

PAGE = 4096


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage_table(db: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage (the database must be closed: its WAL checkpointed)."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    with db.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5\x5a garbage " * (page_size // 11))


@contextmanager
def held_exclusive(db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding `BEGIN EXCLUSIVE` on `db` until the block ends."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield conn
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` made immutable (root: `chattr +i`) or read-only (anyone else: mode 0400) for the block."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without `chattr +i`: the file cannot be made unwritable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
