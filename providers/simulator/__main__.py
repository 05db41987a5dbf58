"""`python -m providers.simulator --spec FILE.json [--port N]`: serve a simulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import anyio
from pydantic import ValidationError

from providers.clock import system_clock
from providers.simulator.core import Simulator
from providers.simulator.spec import SimSpec


async def _serve(spec: SimSpec, port: int) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with Simulator(spec, port=port, clock=lambda: system_clock().timestamp()) as sim:
            print(f"READY {sim.url}", flush=True)
            async for _ in signals:
                return


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the spec and serve; exit 1 with a message on a bad spec."""
    parser = argparse.ArgumentParser(prog="python -m providers.simulator", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help='JSON: {"accounts": [{"id": ..., "kind": ...}]}')
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    try:
        spec = SimSpec.model_validate_json(args.spec.read_text())
    except (OSError, ValidationError) as error:
        print(f"cannot load simulator spec {args.spec}: {error}", file=sys.stderr)
        return 1
    anyio.run(_serve, spec, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
