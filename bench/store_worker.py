"""One of the processes of the shared-store benchmark: opens the App on a shared home, waits for `go` on stdin,
routes `n` requests with `concurrency` workers and prints `{"ok", "errors", "elapsed_s"}` as one JSON line.

`python -m bench.store_worker HOME N CONCURRENCY` (the simulator's URL is in HOME's providers.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio

from bench.fixtures import ENV
from bench.overhead import route_call
from bench.timing import timed_round
from providers.clock import system_clock
from server.config.paths import Paths
from server.wiring.app import open_app


async def main(home: Path, n: int, concurrency: int) -> None:
    async with open_app(Paths.in_home(home), ENV, clock=system_clock) as app:
        print(json.dumps({"ready": True}), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        result = await timed_round(route_call(app.router), n, concurrency)
    print(json.dumps({"ok": len(result.latencies_ms), "errors": result.errors, "elapsed_s": result.elapsed_s}))


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
