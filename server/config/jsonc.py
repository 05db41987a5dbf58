"""JSON with comments: `//` and `/* */` comments and trailing commas, as people write config files by hand.

Comments and trailing commas are blanked out with spaces (newlines kept), so the JSON decoder's line and column
numbers still point into the file as written. The scan knows strings: `"https://..."` is not a comment.
"""

from __future__ import annotations

import json
from typing import Any

from server.config.reader import ConfigError

_SYNTAX_FIX = "correct the JSON at that place (comments with // or /* */ and trailing commas are allowed)"


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _blank(chars: list[str], start: int, end: int) -> None:
    for index in range(start, end):
        if chars[index] != "\n":
            chars[index] = " "


def _skip_string(text: str, index: int) -> int:
    """Index just after the string literal opening at `index` (or the end of the text if unterminated)."""
    index += 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == '"' or char == "\n":
            return index + 1
        index += 1
    return index


def _next_significant(chars: list[str], index: int) -> str:
    while index < len(chars) and chars[index] in " \t\r\n":
        index += 1
    return chars[index] if index < len(chars) else ""


def strip_jsonc(text: str, source: str) -> str:
    """Plain JSON text of the same length and line layout.

    Raises:
        ConfigError: a `/*` comment is never closed.
    """
    chars = list(text.replace("\ufeff", " ", 1) if text.startswith("\ufeff") else text)
    commas: list[int] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            index = _skip_string(text, index)
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            _blank(chars, index, end)
            index = end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                line, column = _position(text, index)
                raise ConfigError(
                    source, "a /* comment is never closed", fix="close it with */", line=line, column=column
                )
            _blank(chars, index, end + 2)
            index = end + 2
        else:
            if char == ",":
                commas.append(index)
            index += 1
    for comma in commas:
        if _next_significant(chars, comma + 1) in ("}", "]"):
            chars[comma] = " "
    return "".join(chars)


def decode_jsonc(text: str, source: str) -> tuple[Any, list[str]]:
    """Decode JSON-with-comments; returns the value and the keys that appeared twice in one object.

    Raises:
        ConfigError: the text is not valid JSON (with the line and column), or is empty.
    """
    if not text.strip():
        raise ConfigError(source, "the file is empty", fix="run `provider-router setup`, or write {} to start")
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    plain = strip_jsonc(text, source)
    try:
        return json.loads(plain, object_pairs_hook=pairs), duplicates
    except json.JSONDecodeError as exc:
        raise ConfigError(
            source, f"invalid JSON: {exc.msg}", fix=_SYNTAX_FIX, line=exc.lineno, column=exc.colno
        ) from exc
    except (ValueError, RecursionError) as exc:
        # json raises these for numbers with thousands of digits and for absurdly deep nesting
        raise ConfigError(source, "invalid JSON: a number is too long or nesting is too deep", fix=_SYNTAX_FIX) from exc
