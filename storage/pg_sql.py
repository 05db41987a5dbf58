"""SQLite's statements as PostgreSQL runs them: placeholders, `json_each`, and row kinds of mixed types.

The jobs write SQL once, in SQLite's placeholders (`?`, `:name`); psycopg wants `%s` / `%(name)s` (and a literal
`%` doubled). Two more differences are translated here rather than at every call site:
- `json_each(X)` over a JSON array of strings becomes `json_array_elements_text(X::json)` (its column is also
  called `value`);
- a top-level `UNION ALL` whose branches pad different row kinds into the same columns (SQLite is dynamically
  typed, PostgreSQL is not) runs as its branches one after the other, in the same transaction.
Everything else is written portably at the source. Translations are cached: the statements are a fixed set.
"""

from __future__ import annotations

import re
from functools import lru_cache

_JSON_EACH = re.compile(r"json_each\((%\(\w+\)s|%s)\)", re.IGNORECASE)


def _scan(sql: str) -> tuple[str, list[int]]:
    """`sql` with psycopg's placeholders, and the offsets (in the result) of each top-level `UNION ALL`."""
    out: list[str] = []
    unions: list[int] = []
    depth = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        elif ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_") and sql[i - 1 : i] != ":":
            match = re.match(r"\w+", sql[i + 1 :])
            assert match is not None
            out.append(f"%({match.group(0)})s")
            i += 1 + match.end()
            continue
        elif ch == "(":
            depth += 1
            out.append(ch)
        elif ch == ")":
            depth -= 1
            out.append(ch)
        elif depth == 0 and sql[i : i + 9].upper() == "UNION ALL" and not sql[i - 1 : i].isalnum():
            unions.append(len("".join(out)))
            out.append(" " * 9)
            i += 9
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out), unions


@lru_cache(maxsize=1024)
def to_postgres(sql: str) -> tuple[str, ...]:
    """The PostgreSQL statements that together give the rows (or the effect) of SQLite's `sql`."""
    text, unions = _scan(sql)
    bounds = [0, *unions, len(text)]
    parts = (text[start:end] for start, end in zip(bounds, bounds[1:], strict=False))
    return tuple(_JSON_EACH.sub(r"json_array_elements_text(\1::json)", part).strip() for part in parts)
