"""`python -m server.serve` on the suite's clock: `FIXED_NOW` plus the seconds since the test run's origin.

The servers a reliability test starts and kills write reservations, counters and day windows; on the machine's clock
a run near a window's reset (the last minutes of a UTC day) saw its own rows land in two days. Here every server of
a run shares one clock that starts at `FIXED_NOW` and moves with the system-wide monotonic clock (the same in every
process, and moved alike by libfaketime), so time still passes between rounds and never depends on today's date.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta

import providers.clock
from tests.clock import FIXED_NOW

#: the environment variable carrying the test run's origin on the monotonic clock (seconds)
ORIGIN_VARIABLE = "PROVIDER_ROUTER_TEST_CLOCK_ORIGIN"


def _test_clock(origin: float) -> providers.clock.Clock:
    def now() -> datetime:
        return FIXED_NOW + timedelta(seconds=time.monotonic() - origin)

    return now


def main() -> int:
    # before the server's modules import the clock by name
    providers.clock.system_clock = _test_clock(float(os.environ[ORIGIN_VARIABLE]))
    from server.mcp.serve import run_serve

    return run_serve()


if __name__ == "__main__":
    sys.exit(main())
