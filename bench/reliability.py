"""`python -m bench.reliability`: the slow reliability tests (soak, long crash series) that CI's test command skips.

Runs the whole reliability suite with the slow tests and rewrites tests/reliability/SUMMARY.md with the counts
(faults survived, inputs tried, rows lost) that the README quotes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    command = [sys.executable, "-m", "tests.reliability.summary", "--slow", *sys.argv[1:]]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
