"""`python -m server.cli VERB …`: what `provider-router install` writes into an MCP client's settings."""

import sys

from server.cli.main import main

sys.exit(main())
