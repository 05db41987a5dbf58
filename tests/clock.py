"""The clock every test uses: fixed by the test, moved by hand, never the machine's."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import anyio.lowlevel

#: event-loop turns a paced simulator yields before it moves the clock: enough for a loopback client to read and
#: parse the frames sent before the pause
PACE_TURNS = 50

#: an arbitrary instant; nothing in the suite depends on it being near the real date
FIXED_NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)

#: the variable that carries the run's clock origin to the processes a test starts (tests/on_test_clock.py)
ORIGIN_VARIABLE = "PROVIDER_ROUTER_TEST_CLOCK_ORIGIN"
#: where the started processes' clock stands at `FIXED_NOW` (seconds on the monotonic clock): one origin for the
#: whole run, so time moves on between the processes it starts
CLOCK_ORIGIN = time.monotonic()


@dataclass
class FixedClock:
    """A clock tests move by hand (aware UTC); `epoch` is the same time for the simulator."""

    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    async def pace(self, seconds: float) -> None:
        """The simulator's pace on this clock (a latency profile without sleeping): first lets every task in the
        loop take what was already sent (a client reads the frames before the pause), then moves the clock."""
        for _ in range(PACE_TURNS):
            await anyio.lowlevel.checkpoint()
        self.advance(seconds=seconds)


def fixed_epoch() -> float:
    """`FIXED_NOW` as epoch seconds: the simulator's clock where a test never moves time."""
    return FIXED_NOW.timestamp()


def moved_clock_environ() -> dict[str, str]:
    """The variables of a libfaketime run (`faketime -f '+730d' pytest`), for subprocesses given a thin environment,
    so the servers a test starts live in the same moved time as the test run itself."""
    return {name: value for name, value in os.environ.items() if name == "LD_PRELOAD" or name.startswith("FAKETIME")}


def on_test_clock(module: str, *arguments: str) -> list[str]:
    """The command that runs `python -m module arguments...` on the suite's clock (pass `suite_clock_environ()`)."""
    return [sys.executable, "-m", "tests.on_test_clock", module, *arguments]


def suite_clock_environ() -> dict[str, str]:
    """The variables a process started with `on_test_clock` needs: the run's clock origin, and libfaketime's."""
    return {ORIGIN_VARIABLE: repr(CLOCK_ORIGIN), **moved_clock_environ()}
