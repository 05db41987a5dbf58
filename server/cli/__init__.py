"""The `provider-router` command line: the parser, one module per group of verbs (verbs/), and the interactive
screens (dashboard, setup wizard, demo, doctor, install). Importing it loads argparse only."""

from server.cli.main import main

__all__ = ["main"]
