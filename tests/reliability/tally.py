"""Counts for tests/reliability/SUMMARY.md: each test adds what it tried when PROVIDER_ROUTER_TALLY names a file.

`python -m tests.reliability.summary` runs the suite with it set and writes the summary (see that module).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

TALLY_ENV = "PROVIDER_ROUTER_TALLY"

Kind = Literal["faults", "inputs", "rows_lost", "kills", "requests", "overspend"]


def record(kind: Kind, count: int = 1, *, test: str = "") -> None:
    """Add `count` to `kind` (a no-op unless the summary command is running the suite)."""
    target = os.environ.get(TALLY_ENV)
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"kind": kind, "count": count, "test": test}) + "\n")
