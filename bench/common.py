"""What every benchmark part shares: robust statistics, the machine's description, and a report section."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
PEERS_VENV = BENCH / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
RESULTS = BENCH / "results"


@dataclass(frozen=True)
class Spread:
    """A median over repeated runs with the smallest and largest run: `1.23 [1.10–1.40]`."""

    median: float
    low: float
    high: float
    runs: int

    def fmt(self, digits: int = 2, unit: str = "") -> str:
        """`median [low–high] unit`."""
        return f"{self.median:.{digits}f} [{self.low:.{digits}f}–{self.high:.{digits}f}]{unit}"


def spread(values: Sequence[float]) -> Spread:
    """The median of `values` (one per run) with its range; NaN for no runs."""
    if not values:
        nan = float("nan")
        return Spread(nan, nan, nan, 0)
    return Spread(statistics.median(values), min(values), max(values), len(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank: p99 of 200 samples is the second-largest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(ours: float, theirs: float) -> str:
    """`theirs / ours` as `12.3×` (how many times ours is smaller/faster); `n/a` when undefined."""
    if ours <= 0 or theirs != theirs or ours != ours:
        return "n/a"
    return f"{theirs / ours:.1f}×"


@dataclass
class Section:
    """One part of the report: a title, markdown lines, and the raw numbers (saved as JSON beside the report)."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list[str])
    data: dict[str, Any] = field(default_factory=dict[str, Any])

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        self.lines.extend("| " + " | ".join(row) + " |" for row in rows)
        self.lines.append("")


@dataclass(frozen=True)
class Options:
    """How hard to push: `quick` shrinks every part to a smoke run (numbers then only show the shape)."""

    quick: bool = False

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine shows up here."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> dict[str, str]:
    """What produced the numbers: CPU, cores, memory, OS, Python, and the load when asked."""
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory_gb(),
        "os": f"{platform.system()} {platform.release()} ({platform.platform(terse=True)})",
        "python": sys.version.split()[0],
        "load": load_average(),
    }
