"""One module per page of the dashboard; each renders server.views reports (the same the CLI prints)."""
