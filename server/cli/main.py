"""The `provider-router` command line: parse, then hand the verb to the module that runs it.

Every verb is a thin layer over the same App (server.wiring.App) the MCP tools use. This module imports argparse
only; the verb's own module (and rich, the tokenizer, the MCP SDK) load when that verb runs, which keeps
`provider-router serve` fast to start.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from providers.clock import Clock, system_clock
from server.cli.parser import build_parser

Handler = Callable[[argparse.Namespace], int]


def _handler(target: str) -> Handler:
    module_name, _, function = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler


def main(argv: Sequence[str] | None = None, *, clock: Clock = system_clock) -> int:
    """Run one verb on `clock`; return the exit status (0 done, 1 a problem the message names the fix for, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits 2 on a usage error and 0 after --help
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.verb is None:
        parser.print_help(sys.stderr)
        return 2
    from server.cli.common import run_verb

    return run_verb(_handler(args.target), args, clock)


if __name__ == "__main__":
    sys.exit(main())
