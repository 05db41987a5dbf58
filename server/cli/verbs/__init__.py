"""The CLI's verbs, grouped by what they touch; each renders what server.views and server.actions return."""
