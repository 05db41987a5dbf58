"""Typed reading of the decoded providers.json: every check knows its JSON path and names the fix when it fails.

The loader walks plain decoded JSON by hand (rather than through a pydantic model of the file) so that each error
says exactly where it is (`$.providers.google.accounts[1].quota.limit`), what is wrong, and how to fix it, and
so that the looser forms (`"limit": "free_15_per_day"`, `"default": [...]`) can be read as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clients import jsonc
from providers.catalog import Catalog
from providers.redact import mask_keys

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: the largest count (requests, tokens, days) and amount (USD, seconds) a setting may hold unless it says otherwise:
#: far beyond any real limit, and small enough that sums in nano-dollars and millisecond timestamps fit SQLite's
#: 64-bit integers and Python's timedelta (an unbounded number crashed the server at start or on a request)
MAX_COUNT = 10**12
MAX_AMOUNT = 1e9


class ConfigError(Exception):
    """providers.json cannot be used. `str()` is one line naming the file, where, what is wrong and the fix."""

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        fix: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = source
        self.problem = problem
        self.fix = fix
        self.path = path
        self.line = line
        self.column = column
        where = [part for part in (path, f"line {line}, column {column}" if line is not None else None) if part]
        location = f"{source}: {' at '.join(where)}" if where else source
        super().__init__(f"{location}: {problem}. Fix: {fix}")


#: how much of a long value a message quotes
_QUOTED_CHARS = 60


def quoted(text: str) -> str:
    """`text` in double quotes as a message shows what the user wrote; a long one by its start and its length."""
    if len(text) <= _QUOTED_CHARS:
        return f'"{text}"'
    return f'"{text[:_QUOTED_CHARS]}…" ({len(text)} characters)'


def child(path: str, key: str) -> str:
    """The JSON path of a member: `$.a.b`, or `$.a["odd key"]` when the key is not an identifier (a very long key by
    its start and its length, as `quoted` shows a value)."""
    if len(key) > _QUOTED_CHARS:
        return f"{path}[{quoted(key)}]"
    if _IDENT.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{escaped}"]'


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def describe(value: Any) -> str:
    """A short, safe description of a JSON value's type for messages (never the value: it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


@dataclass
class Reader:
    """State of one load: where the text came from, the environment, the day, the catalogue and the warnings."""

    source: str
    environ: Mapping[str, str]
    today: date
    catalog: Catalog
    warnings: list[str] = field(default_factory=list)
    #: provider ids named in preferences but not configured, each reported once
    unknown_providers: set[str] = field(default_factory=set)

    def fail(self, path: str, problem: str, fix: str) -> NoReturn:
        # a problem may quote what the user wrote, and a key pasted into the wrong field must not be echoed
        raise ConfigError(self.source, mask_keys(problem), fix=fix, path=path)

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(mask_keys(f"{path}: {message}"))

    def obj(self, value: Any, path: str, *, fix: str = "write an object: { ... }") -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {describe(value)}", fix)
        return value

    def known_keys(self, value: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        """Warn (never fail) about keys we do not read, so a typo is visible but does not stop the server."""
        allowed_set = set(allowed)
        for key in value:
            if key not in allowed_set:
                self.warn(child(path, key), f"unknown key ignored (known keys: {', '.join(sorted(allowed_set))})")

    def interpolate(self, text: str, path: str) -> str:
        """Replace `${VAR}` (or `${VAR:-default}`) with the variable's value; a missing variable is an error."""

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            name = name if len(name) <= 64 else f"{name[:64]}..."  # quoted three times: keep the message short
            self.fail(
                path,
                f"environment variable {name} is not set",
                f"set {name} in the environment of the process that starts the server (an agent's MCP config "
                f'passes only the variables in its "env"), or write ${{{name}:-default}}',
            )

        return _ENV_REF.sub(substitute, text)

    def string(
        self, value: Any, path: str, *, fix: str = 'write a string in quotes: "..."', empty: bool = False
    ) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {describe(value)}", fix)
        text = self.interpolate(value, path).strip()
        if not text and not empty:
            self.fail(path, "must not be empty", fix)
        return text

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {describe(value)}", "write true or false (no quotes)")
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
        fix = f"write a whole number >= {minimum} and <= {maximum} (no quotes)"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a whole number, got {describe(value)}", fix)
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            self.fail(path, "expected a whole number", fix)
        number = int(value)
        if number < minimum or number > maximum:
            self.fail(path, f"{_short(number)} is out of range", fix)
        return number

    def number(self, value: Any, path: str, *, positive: bool = False, maximum: float = MAX_AMOUNT) -> float:
        fix = f"write a number {'> 0' if positive else '>= 0'} and <= {maximum:g} (no quotes)"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {describe(value)}", fix)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) or number < 0 or (positive and number == 0) or number > maximum:
            self.fail(path, f"{_short(value)} is out of range", fix)
        return number

    def choice(self, value: Any, path: str, options: Iterable[str]) -> str:
        allowed = tuple(options)
        fix = "use one of " + ", ".join(f'"{option}"' for option in allowed)
        text = self.string(value, path, fix=fix)
        if text not in allowed:
            self.fail(path, f"{quoted(text)} is not a valid choice", fix)
        return text

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        fix = 'write a list of strings: ["a", "b"]'
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {describe(value)}", fix)
        return tuple(self.string(entry, item(path, index), fix=fix) for index, entry in enumerate(value))

    def timezone(self, value: Any, path: str) -> str:
        fix = 'use an IANA time zone name such as "UTC", "America/Los_Angeles" or "Europe/Berlin"'
        name = self.string(value, path, fix=fix)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):
            self.fail(path, f"unknown time zone {quoted(name)}", fix)
        return name


def _short(number: float) -> str:
    """A number as an error quotes it: a 5,000-digit integer is shown by its size."""
    text = str(number)
    return text if len(text) <= 24 else f"a {len(text)}-digit number"


_SYNTAX_FIX = "correct the JSON at that place (comments with // or /* */ and trailing commas are allowed)"


def decode_jsonc(text: str, source: str) -> tuple[Any, list[str]]:
    """Decode providers.json with clients.jsonc (comments and trailing commas allowed); returns the value and the
    keys that appeared twice in one object.

    Raises:
        ConfigError: the text is not valid JSON (with the line and column), or is empty.
    """
    if not text.strip():
        raise ConfigError(source, "the file is empty", fix="run `provider-router setup`, or write {} to start")
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark: columns still count from the file's first character
    try:
        document = jsonc.parse(text)
    except jsonc.JsoncError as exc:
        unclosed = exc.reason == jsonc.UNCLOSED_COMMENT
        reason, fix = ("a /* comment is never closed", "close it with */") if unclosed else (None, _SYNTAX_FIX)
        message = reason or f"invalid JSON: {exc.reason}"
        raise ConfigError(source, message, fix=fix, line=exc.line, column=exc.column) from exc
    except (ValueError, RecursionError) as exc:
        # numbers with thousands of digits, and absurdly deep nesting
        raise ConfigError(source, "invalid JSON: a number is too long or nesting is too deep", fix=_SYNTAX_FIX) from exc
    return document.root.value, list(document.duplicates)
