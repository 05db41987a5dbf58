"""The snippet that tells an agent when and how to delegate, and its idempotent placement in CLAUDE.md/AGENTS.md."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BEGIN = "<!-- provider-router:begin (managed by `provider-router install --instructions`) -->"
END = "<!-- provider-router:end -->"


def snippet() -> str:
    """The text of clients/AGENT_INSTRUCTIONS.md."""
    return resources.files("clients").joinpath("AGENT_INSTRUCTIONS.md").read_text(encoding="utf-8")


def snippet_path() -> Path:
    """Where the snippet lives in this installation (to tell the user what to paste)."""
    return Path(str(resources.files("clients").joinpath("AGENT_INSTRUCTIONS.md")))


def with_snippet(existing: str | None, text: str) -> str:
    """`existing` with the snippet between our markers: replaced in place if present, else appended.

    Running it twice gives the same text.
    """
    block = f"{BEGIN}\n{text.rstrip()}\n{END}\n"
    if not existing:
        return block
    start = existing.find(BEGIN)
    end = existing.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start >= 0 and end >= 0:
        after = existing[end + len(END) :]
        return existing[:start] + block + after.removeprefix("\r\n").removeprefix("\n")
    separator = "" if existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
    return existing + separator + block
