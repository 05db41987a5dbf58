"""Set one table of a TOML file by editing its text, so every other line (comments included) stays as it was.

The standard library reads TOML but does not write it, and a full re-serialisation would drop the user's
comments and layout anyway. So this module finds the lines of `[a.b]` (and of its sub-tables `[a.b.*]`),
puts a freshly rendered block in their place (or at the end), and re-reads the result with `tomllib` to
prove that nothing but that table changed.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class TomlEditError(ValueError):
    """The table cannot be set by a text edit (e.g. it is written as an inline table or with dotted keys)."""


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _string(value: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def render_table(path: Sequence[str], values: Mapping[str, Any], newline: str = "\n") -> str:
    """`[a.b]` followed by one `key = value` line per member (tables as inline tables)."""
    lines = ["[" + ".".join(_key(part) for part in path) + "]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in values.items()]
    return newline.join(lines) + newline


@dataclass(frozen=True)
class _Header:
    line: int
    path: tuple[str, ...]


def _header_path(line: str) -> tuple[str, ...] | None:
    """The key path of a `[table]` or `[[array]]` header line, or None when the line is no header."""
    stripped = line.strip()
    if not stripped.startswith("["):
        return None
    try:
        parsed: Any = tomllib.loads(stripped)
    except tomllib.TOMLDecodeError:
        return None  # e.g. a line inside a multi-line array or string
    path: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        name, parsed = next(iter(parsed.items()))
        path.append(name)
        if isinstance(parsed, list):
            parsed = parsed[-1] if parsed else {}
    return tuple(path) if path and parsed == {} else None


def _headers(lines: Sequence[str]) -> list[_Header]:
    found = []
    for index, line in enumerate(lines):
        path = _header_path(line)
        if path is not None:
            found.append(_Header(index, path))
    return found


def _is_trivia(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _owned_ranges(lines: Sequence[str], path: tuple[str, ...]) -> list[tuple[int, int]]:
    """Line ranges `[start, end)` of the table at `path` and its sub-tables.

    Comments and blank lines just before the next header belong to that header, so they stay.
    """
    headers = _headers(lines)
    owned = [header.path[: len(path)] == path for header in headers]
    ranges = []
    for position, header in enumerate(headers):
        if not owned[position]:
            continue
        following = position + 1 < len(headers)
        end = headers[position + 1].line if following else len(lines)
        if not (following and owned[position + 1]):
            while end > header.line + 1 and _is_trivia(lines[end - 1]):
                end -= 1
        ranges.append((header.line, end))
    return ranges


def set_table(text: str, path: Sequence[str], values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return `text` with the table at `path` set to `values`, and the document as `tomllib` reads it before.

    Raises:
        tomllib.TOMLDecodeError: the text is not TOML.
        TomlEditError: the table exists in a form a line edit cannot replace.
    """
    before = tomllib.loads(text)
    key_path = tuple(path)
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    block = render_table(key_path, values, newline)
    ranges = _owned_ranges(lines, key_path)
    if ranges:
        kept = [line for i, line in enumerate(lines) if not any(s <= i < e for s, e in ranges)]
        # The new block takes the place of the first old one; later sub-tables of it are simply dropped.
        first_start = ranges[0][0]
        kept[first_start:first_start] = [block]
        result = "".join(kept)
    else:
        result = text
        if result and not result.endswith(("\n", "\r")):
            result += newline
        if result.strip():
            result += newline
        result += block
    _check(before, result, key_path, values)
    return result, before


def _check(before: dict[str, Any], result: str, path: tuple[str, ...], values: Mapping[str, Any]) -> None:
    expected = copy.deepcopy(before)
    node = expected
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise TomlEditError(f"`{part}` is not a table")
        node = child
    node[path[-1]] = dict(values)
    try:
        after = tomllib.loads(result)
    except tomllib.TOMLDecodeError as exc:
        raise TomlEditError(f"the edited file would not be valid TOML ({exc})") from exc
    if after != expected:
        raise TomlEditError("the edit would change more than that one table")
