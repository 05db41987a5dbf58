"""Setting one TOML table by a text edit keeps every other line, and tomllib reads the result back."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

import pytest

from clients.tomltable import TomlEditError, render_table, set_table

PATH = ("mcp_servers", "provider-router")
ENTRY = {"command": "/opt/pr/bin/provider-router", "args": ["serve"]}


def edit(text: str, entry: Mapping[str, object] = ENTRY) -> str:
    return set_table(text, PATH, entry)[0]


def test_the_table_is_written_with_bare_keys_where_toml_allows_them() -> None:
    entry = {"command": 'C:\\Tools\\pr "x".exe', "args": ["serve"], "env": {"A_B": "1", "with space": "\x7f"}}
    text = render_table(PATH, entry)
    assert text.startswith("[mcp_servers.provider-router]\ncommand = ")
    assert 'env = { A_B = "1", "with space" = "\\u007f" }' in text
    assert tomllib.loads(text) == {"mcp_servers": {"provider-router": entry}}


def test_an_empty_file_gets_just_the_table() -> None:
    assert edit("") == '[mcp_servers.provider-router]\ncommand = "/opt/pr/bin/provider-router"\nargs = ["serve"]\n'


def test_a_new_table_is_appended_after_a_blank_line_and_the_rest_is_untouched() -> None:
    text = '# my codex config\nmodel = "o3"\n\n[mcp_servers.other]\ncommand = "x" # trailing\n'
    result = edit(text)
    assert result.startswith(text + "\n[mcp_servers.provider-router]\n")
    assert tomllib.loads(result)["mcp_servers"] == {"other": {"command": "x"}, "provider-router": ENTRY}


def test_a_file_without_a_final_newline_still_gets_a_separate_table() -> None:
    result = edit('model = "o3"')
    assert result.startswith('model = "o3"\n\n[mcp_servers.provider-router]\n')


def test_an_existing_table_and_its_sub_tables_are_replaced_where_they_were() -> None:
    text = (
        'model = "o3"\n\n'
        "[mcp_servers.provider-router]\n"
        'command = "/old/provider-router"\n'
        "args = []\n"
        "startup_timeout_sec = 5\n\n"
        "[mcp_servers.provider-router.env]\n"
        'OLD = "1"\n\n'
        "# the other one\n"
        "[mcp_servers.other]\n"
        'command = "x"\n'
    )
    result = edit(text)
    assert result == (
        'model = "o3"\n\n'
        "[mcp_servers.provider-router]\n"
        'command = "/opt/pr/bin/provider-router"\n'
        'args = ["serve"]\n\n'
        "# the other one\n"
        "[mcp_servers.other]\n"
        'command = "x"\n'
    )


def test_a_quoted_header_is_recognised_as_the_same_table() -> None:
    text = '[mcp_servers."provider-router"]\ncommand = "/old"\n\n[profiles.fast]\nmodel = "o4-mini"\n'
    result = edit(text)
    assert '"/old"' not in result
    assert tomllib.loads(result) == {
        "mcp_servers": {"provider-router": ENTRY},
        "profiles": {"fast": {"model": "o4-mini"}},
    }


def test_editing_twice_gives_the_same_text() -> None:
    once = edit('[a]\nb = 1\n\n[mcp_servers.provider-router]\ncommand = "/x"\n\n[c]\nd = 2\n')
    assert edit(once) == once


def test_crlf_files_get_crlf_lines() -> None:
    result = edit('model = "o3"\r\n')
    assert "\r\n[mcp_servers.provider-router]\r\n" in result
    assert "\n" not in result.replace("\r\n", "")


@pytest.mark.parametrize(
    "text",
    [
        '[mcp_servers]\nprovider-router = { command = "/old" }\n',
        'mcp_servers = { other = { command = "x" } }\n',
        '[mcp_servers]\nprovider-router.command = "/old"\n',
    ],
)
def test_a_server_written_inline_or_with_dotted_keys_is_refused(text: str) -> None:
    with pytest.raises(TomlEditError):
        edit(text)


def test_invalid_toml_is_refused() -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        edit("model = \n")


def test_mcp_servers_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(TomlEditError):
        edit('mcp_servers = "no"\n')
