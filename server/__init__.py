"""provider-router's application layer: config (read, write), wiring (App, SQLite ports), views (what it shows),
actions (what a user changes), and the two surfaces over them: mcp (the tools) and cli (the verbs)."""
