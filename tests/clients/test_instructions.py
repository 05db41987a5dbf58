"""The delegation snippet and its idempotent place in CLAUDE.md / AGENTS.md."""

from __future__ import annotations

import re

from clients.instructions import BEGIN, END, snippet, snippet_path, with_snippet


def test_the_snippet_names_the_tool_and_every_documented_choice() -> None:
    text = snippet()
    assert "route_and_complete" in text
    for word in ("coding", "reasoning", "creative", "simple", "max_speed", "balanced", "max_quality", "max_context"):
        assert f"`{word}`" in text
    for word in ("free_only", "cost_first", "quality_first", "conversation_id", "dry_run", "reason"):
        assert word in text
    assert snippet_path().read_text(encoding="utf-8") == text


def test_a_new_file_gets_the_snippet_between_markers() -> None:
    assert with_snippet(None, "hello\n") == f"{BEGIN}\nhello\n{END}\n"


def test_an_existing_file_keeps_its_text_and_gets_the_snippet_after_a_blank_line() -> None:
    assert with_snippet("# Project\nrules", "hi") == f"# Project\nrules\n\n{BEGIN}\nhi\n{END}\n"
    assert with_snippet("# Project\n", "hi") == f"# Project\n\n{BEGIN}\nhi\n{END}\n"


def test_placing_it_again_replaces_the_old_block_in_place() -> None:
    first = with_snippet("# P\n\nbefore\n", "old")
    second = with_snippet(first + "\nafter\n", "new")
    assert second == f"# P\n\nbefore\n\n{BEGIN}\nnew\n{END}\n\nafter\n"
    assert with_snippet(second, "new") == second
    assert len(re.findall(re.escape(BEGIN), second)) == 1
