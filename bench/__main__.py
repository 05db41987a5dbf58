"""`python -m bench [PART ...] [--quick]`: run the benchmarks and write bench/REPORT.md (see bench/README.md)."""

from __future__ import annotations

import argparse
import sys

import anyio

from bench.report import PARTS, run_parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", choices=[[], *PARTS], metavar="PART", help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few rounds, small samples")
    parser.add_argument("--output", default=None, help="where to write the report (default bench/REPORT.md)")
    args = parser.parse_args(argv)
    parts = list(args.parts) or list(PARTS)
    return anyio.run(run_parts, parts, args.quick, args.output, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
