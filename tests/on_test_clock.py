"""`python -m tests.on_test_clock MODULE [ARG ...]`: run `python -m MODULE ARG ...` on the suite's clock.

The product a test starts in a subprocess (a server it kills, `serve --http` nodes, the CLI reading their reports)
writes and reads reservations, counters and day windows. On the machine's clock a run near a window's reset (the
last minutes of a UTC day) saw its own rows land in two days. Here every such process of a run shares one clock that
starts at `FIXED_NOW` and moves with the system-wide monotonic clock from the run's origin (the same in every
process, and moved alike by libfaketime), so time still passes between processes and never depends on today's date.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from datetime import datetime, timedelta

import providers.clock
from tests.clock import FIXED_NOW, ORIGIN_VARIABLE


def _test_clock(origin: float) -> providers.clock.Clock:
    def now() -> datetime:
        return FIXED_NOW + timedelta(seconds=time.monotonic() - origin)

    return now


def main() -> None:
    module, *arguments = sys.argv[1:]
    # before the product's modules import the clock by name
    providers.clock.system_clock = _test_clock(float(os.environ[ORIGIN_VARIABLE]))
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
