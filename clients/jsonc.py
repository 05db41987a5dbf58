"""JSON with comments, edited in place: set one member two levels down and leave every other byte alone.

Editors' settings files (Zed, VS Code) carry `//` and `/* */` comments and trailing commas, and users keep
their own order and layout; re-serialising the whole file would lose all three. So the reader here records
where each object and member sits in the text, and the editor splices only the text of the member it sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_WHITESPACE = " \t\r\n"
_SCALAR_DECODER = json.JSONDecoder()
UNCLOSED_COMMENT = "unterminated /* comment"


class JsoncError(ValueError):
    """The text is not JSON (with comments); `line` and `column` are 1-based."""

    def __init__(self, message: str, text: str, pos: int) -> None:
        self.line = text.count("\n", 0, pos) + 1
        self.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        self.reason = message
        super().__init__(f"{message} at line {self.line}, column {self.column}")


@dataclass(frozen=True)
class Member:
    key: str
    key_start: int
    value: Node


@dataclass(frozen=True)
class Node:
    """A parsed value and its span `[start, end)`; objects also keep their members and closing brace."""

    value: Any
    start: int
    end: int
    members: tuple[Member, ...] = ()
    trailing_comma: bool = False

    @property
    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    def member(self, key: str) -> Member | None:
        """The member named `key`; with duplicates, the last one, as JSON readers take."""
        found = [m for m in self.members if m.key == key]
        return found[-1] if found else None


@dataclass
class Document:
    root: Node
    has_comments: bool
    #: member names that appeared twice in one object (the last one counts), in the order met
    duplicates: tuple[str, ...] = ()


@dataclass
class _Parser:
    text: str
    trailing_commas: bool = True
    pos: int = 0
    has_comments: bool = False
    duplicates: list[str] = field(default_factory=list)

    def fail(self, message: str, pos: int | None = None) -> JsoncError:
        return JsoncError(message, self.text, self.pos if pos is None else pos)

    def skip(self) -> None:
        """Skip whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in _WHITESPACE:
                self.pos += 1
            elif text.startswith("//", self.pos):
                self.has_comments = True
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif text.startswith("/*", self.pos):
                self.has_comments = True
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail(UNCLOSED_COMMENT)
                self.pos = end + 2
            else:
                return

    def refuse_trailing_comma(self, seen: bool) -> None:
        if seen and not self.trailing_commas:
            raise self.fail("a trailing comma before the closing bracket")

    def value(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("expected a value, found the end of the file")
        ch = self.text[self.pos]
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.array()
        start = self.pos
        try:
            scalar, end = _SCALAR_DECODER.raw_decode(self.text, start)
        except json.JSONDecodeError as exc:
            raise self.fail(f"expected a value ({exc.msg})", exc.pos) from exc
        self.pos = end
        return Node(scalar, start, end)

    def obj(self) -> Node:
        start = self.pos
        self.pos += 1
        members: list[Member] = []
        trailing = False
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.refuse_trailing_comma(trailing)
                break
            if members and not trailing:
                raise self.fail("expected ',' or '}'")
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a member name in double quotes")
            key_node = self.value()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail("expected ':' after a member name")
            self.pos += 1
            if any(m.key == key_node.value for m in members):
                self.duplicates.append(key_node.value)
            members.append(Member(key_node.value, key_node.start, self.value()))
            self.skip()
            trailing = self.text.startswith(",", self.pos)
            if trailing:
                self.pos += 1
        self.pos += 1
        value = {m.key: m.value.value for m in members}
        return Node(value, start, self.pos, tuple(members), trailing)

    def array(self) -> Node:
        start = self.pos
        self.pos += 1
        items: list[Any] = []
        comma = True
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.refuse_trailing_comma(comma and bool(items))
                break
            if not comma:
                raise self.fail("expected ',' or ']'")
            items.append(self.value().value)
            self.skip()
            comma = self.text.startswith(",", self.pos)
            if comma:
                self.pos += 1
        self.pos += 1
        return Node(items, start, self.pos)


def parse(text: str, *, trailing_commas: bool = True) -> Document:
    """Read JSON that may hold comments (and, unless told otherwise, trailing commas), keeping positions.

    Raises:
        JsoncError: the text is not such JSON; the error names the line and column.
    """
    parser = _Parser(text, trailing_commas)
    root = parser.value()
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the top-level value")
    return Document(root, parser.has_comments, tuple(parser.duplicates))


def _line_indent(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _starts_line(text: str, pos: int) -> bool:
    return text[text.rfind("\n", 0, pos) + 1 : pos].strip(" \t") == ""


@dataclass(frozen=True)
class _Style:
    unit: str
    newline: str

    @classmethod
    def of(cls, text: str, root: Node) -> _Style:
        unit = "  "
        if root.members and _starts_line(text, root.members[0].key_start):
            unit = _line_indent(text, root.members[0].key_start) or unit
        return cls(unit, "\r\n" if "\r\n" in text else "\n")

    def render(self, value: Any, indent: str) -> str:
        """`value` as JSON laid out like the file: objects one member a line, arrays of scalars on one line."""
        return render(value, indent, self.unit, self.newline)

    def member(self, key: str, value: Any, indent: str) -> str:
        return f"{json.dumps(key, ensure_ascii=False)}: {self.render(value, indent)}"


def render(value: Any, indent: str = "", unit: str = "  ", newline: str = "\n") -> str:
    """JSON text for `value` whose continuation lines start with `indent`."""
    if isinstance(value, dict) and value:
        inner = indent + unit
        members = [f"{json.dumps(k, ensure_ascii=False)}: {render(v, inner, unit, newline)}" for k, v in value.items()]
        return "{" + newline + inner + ("," + newline + inner).join(members) + newline + indent + "}"
    if isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
        inner = indent + unit
        items = [render(item, inner, unit, newline) for item in value]
        return "[" + newline + inner + ("," + newline + inner).join(items) + newline + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _insert_member(text: str, obj: Node, key: str, value: Any, style: _Style) -> str:
    close = obj.end - 1
    base = _line_indent(text, obj.start)
    nl = style.newline
    if not obj.members:
        indent = base + style.unit
        inner = text[obj.start + 1 : close]
        addition = nl + indent + style.member(key, value, indent)
        if inner.strip(_WHITESPACE) == "":
            return text[: obj.start + 1] + addition + nl + base + text[close:]
        return text[: obj.start + 1] + addition + text[obj.start + 1 :]  # only comments inside: keep them after
    first, last = obj.members[0], obj.members[-1]
    if "\n" not in text[obj.start : close]:
        addition = ", " + json.dumps(key, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False)
        at = last.value.end
        return text[:at] + addition + text[at:]
    indent = _line_indent(text, first.key_start) if _starts_line(text, first.key_start) else base + style.unit
    tail = close
    while tail > last.value.end and text[tail - 1] in _WHITESPACE:
        tail -= 1
    # A trailing comma or a comment after the last member stays where it is; the new member goes after them.
    comma = "" if obj.trailing_comma else ","
    addition = nl + indent + style.member(key, value, indent) + ("," if obj.trailing_comma else "")
    return text[: last.value.end] + comma + text[last.value.end : tail] + addition + text[tail:]


def set_path(text: str, path: Sequence[str], value: Any, *, trailing_commas: bool = True) -> tuple[str, bool]:
    """Return `text` with `root[path[0]]…[path[-1]] = value`, and whether the text had comments.

    Everything else, comments and layout included, is kept byte for byte. An existing member at `path`
    is replaced whole; missing objects along the way are added at the end of their parent.

    Raises:
        JsoncError: the text is not JSON with comments, or the top level or an object along `path` is
            something other than an object.
    """
    if not path:
        raise ValueError("path must name at least one member")
    doc = parse(text, trailing_commas=trailing_commas)
    node = doc.root
    if not node.is_object:
        raise JsoncError("the top level is not a JSON object", text, node.start)
    style = _Style.of(text, node)
    for depth, key in enumerate(path):
        member = node.member(key)
        if member is None:
            nested: Any = value
            for outer in reversed(path[depth + 1 :]):
                nested = {outer: nested}
            result = _insert_member(text, node, key, nested, style)
            break
        if depth == len(path) - 1:
            if "\n" in text[node.start : node.end]:
                rendered = style.render(value, _line_indent(text, member.key_start))
            else:
                rendered = json.dumps(value, ensure_ascii=False)  # a one-line object stays on one line
            result = text[: member.value.start] + rendered + text[member.value.end :]
            break
        if not member.value.is_object:
            raise JsoncError(f'"{key}" is not an object', text, member.value.start)
        node = member.value
    _check_edit(doc.root.value, parse(result).root.value, path, value)
    return result, doc.has_comments


def set_nested_member(text: str, outer: str, key: str, value: Any, *, trailing_commas: bool = True) -> tuple[str, bool]:
    """`set_path(text, (outer, key), value)`: set one entry of a top-level object such as `mcpServers`."""
    return set_path(text, (outer, key), value, trailing_commas=trailing_commas)


def _with_value(document: Any, path: Sequence[str], value: Any) -> Any:
    if not path:
        return value
    inner = document.get(path[0], {}) if isinstance(document, dict) else {}
    return {**document, path[0]: _with_value(inner, path[1:], value)}


def _check_edit(before: Any, after: Any, path: Sequence[str], value: Any) -> None:
    """The splice must change exactly one member; anything else is a bug here, never the user's file."""
    if after != _with_value(before, path, value):
        raise AssertionError(f"editing {'.'.join(path)} changed other members")
