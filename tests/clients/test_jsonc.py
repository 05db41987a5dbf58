"""The JSONC reader keeps positions; the editor changes one member and leaves every other byte alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clients.jsonc import JsoncError, parse, render, set_nested_member, set_path

ENTRY = {"command": "/bin/pr", "args": ["serve"], "env": {}}


def edit(text: str, value: Any = ENTRY) -> str:
    return set_nested_member(text, "servers", "pr", value)[0]


def test_comments_and_trailing_commas_are_read_and_reported() -> None:
    doc = parse('// head\n{\n  "a": [1, 2,], /* x */\n  "b": {"c": null,},\n}\n')
    assert doc.root.value == {"a": [1, 2], "b": {"c": None}}
    assert doc.has_comments


def test_plain_json_reports_no_comments() -> None:
    assert not parse('{"url": "http://x//y"}').has_comments


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
        ('{\n  "a": ,\n}', 2, 8),
        ("{\n  /* never closed\n}", 2, 3),
        ('{"a": 1} trailing', 1, 10),
        ("", 1, 1),
        ("{a: 1}", 1, 2),
    ],
)
def test_malformed_text_is_refused_with_its_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(JsoncError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_a_missing_outer_object_is_added_after_the_last_member() -> None:
    text = '{\n  "theme": "dark"\n}\n'
    assert edit(text) == (
        '{\n  "theme": "dark",\n  "servers": {\n    "pr": {\n      "command": "/bin/pr",\n'
        '      "args": ["serve"],\n      "env": {}\n    }\n  }\n}\n'
    )


def test_a_new_entry_joins_the_existing_servers_and_keeps_their_order() -> None:
    text = '{\n  "servers": {\n    "b": {"command": "b"},\n    "a": {"command": "a"}\n  },\n  "z": 1\n}\n'
    result = edit(text)
    assert list(json.loads(result)["servers"]) == ["b", "a", "pr"]
    assert list(json.loads(result)) == ["servers", "z"]
    assert result.startswith('{\n  "servers": {\n    "b": {"command": "b"},\n    "a": {"command": "a"},\n    "pr": {')


def test_an_existing_entry_is_replaced_in_place() -> None:
    text = '{\n  "servers": {\n    "pr": {"command": "/old", "args": []},\n    "other": {"command": "o"}\n  }\n}\n'
    result = edit(text)
    assert json.loads(result)["servers"] == {"pr": ENTRY, "other": {"command": "o"}}
    assert list(json.loads(result)["servers"]) == ["pr", "other"]


def test_comments_everywhere_else_survive_the_edit() -> None:
    text = (
        '// Zed settings\n{\n  // the theme\n  "theme": "One Dark", /* inline */\n'
        '  "servers": {\n    "old": {"command": "x"} // keep me\n  },\n}\n'
    )
    result = edit(text)
    for piece in ("// Zed settings\n", "// the theme\n", "/* inline */", "// keep me"):
        assert piece in result
    assert parse(result).root.value["servers"] == {"old": {"command": "x"}, "pr": ENTRY}
    assert result.index("// keep me") < result.index('"pr"')


def test_a_trailing_comma_style_is_kept_when_adding_a_member() -> None:
    result = edit('{\n  "servers": {\n    "a": 1,\n  },\n}\n', value=2)
    assert result == '{\n  "servers": {\n    "a": 1,\n    "pr": 2,\n  },\n}\n'


def test_an_empty_object_gets_the_member_on_its_own_line() -> None:
    assert edit('{\n  "servers": {}\n}', value=1) == '{\n  "servers": {\n    "pr": 1\n  }\n}'
    assert edit("{}", value=1) == '{\n  "servers": {\n    "pr": 1\n  }\n}'


def test_a_one_line_object_stays_on_one_line() -> None:
    assert edit('{"servers": {"a": 1}}', value=2) == '{"servers": {"a": 1, "pr": 2}}'


def test_tabs_and_crlf_are_followed() -> None:
    result = edit('{\r\n\t"servers": {\r\n\t\t"a": 1\r\n\t}\r\n}\r\n', value={"k": 1})
    assert result == '{\r\n\t"servers": {\r\n\t\t"a": 1,\r\n\t\t"pr": {\r\n\t\t\t"k": 1\r\n\t\t}\r\n\t}\r\n}\r\n'


def test_editing_twice_gives_the_same_text() -> None:
    text = '// c\n{\n  "servers": {"x": 1,},\n  "y": [1, 2]\n}\n'
    once = edit(text)
    assert edit(once) == once


@pytest.mark.parametrize("text", ['{"servers": []}', '{"servers": "x"}', "[1]", '"s"'])
def test_a_wrong_shape_is_refused(text: str) -> None:
    with pytest.raises(JsoncError):
        edit(text)


def test_the_last_of_duplicate_members_is_the_one_edited() -> None:
    text = '{\n  "servers": {"a": 1},\n  "servers": {"b": 2}\n}'
    assert parse(edit(text, value=3)).root.value == {"servers": {"b": 2, "pr": 3}}


def test_render_puts_arrays_of_scalars_on_one_line() -> None:
    assert render({"a": ["x", 1], "b": [{"c": 1}], "d": {}}) == (
        '{\n  "a": ["x", 1],\n  "b": [\n    {\n      "c": 1\n    }\n  ],\n  "d": {}\n}'
    )


@pytest.mark.parametrize("text", ['{"a": 1,}', '{"a": [1,]}'])
def test_trailing_commas_can_be_refused(text: str) -> None:
    assert parse(text).root.value
    with pytest.raises(JsoncError, match="trailing comma"):
        parse(text, trailing_commas=False)


def test_an_empty_array_is_not_a_trailing_comma() -> None:
    assert parse('{"a": []}', trailing_commas=False).root.value == {"a": []}


def test_set_path_adds_missing_objects_along_the_way() -> None:
    result, _ = set_path('{\n  "x": 1\n}', ("a", "b", "c"), [1])
    assert json.loads(result) == {"x": 1, "a": {"b": {"c": [1]}}}
    assert set_path(result, ("x",), 2)[0] == result.replace('"x": 1', '"x": 2')
