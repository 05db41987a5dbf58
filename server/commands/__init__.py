"""The `provider-router` verbs, a module per group; each takes the parsed arguments and returns the exit status."""
