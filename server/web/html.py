"""Tiny HTML helpers: every value escaped, numbers shown formatted with the exact value in `data-num` (the tests
compare those with the CLI's JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def attrs(**values: object) -> str:
    """` name="value"` pairs (underscores become dashes; None and False are left out)."""
    parts = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        key = name.rstrip("_").replace("_", "-")
        parts.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    return "".join(parts)


def usd(value: float | None, key: str | None = None) -> str:
    if value is None:
        return '<span class="muted">–</span>'
    shown = f"${value:,.2f}" if abs(value) >= 1 else f"${value:,.4f}"
    return f"<span{attrs(class_='num', data_num=repr(float(value)), data_key=key)}>{shown}</span>"


def ms(value: float | None, key: str | None = None) -> str:
    if value is None:
        return f"<span{attrs(class_='muted', data_key=key, data_num='null')}>–</span>"
    return f"<span{attrs(class_='num', data_num=repr(float(value)), data_key=key)}>{value:,.0f} ms</span>"


def count(value: int, key: str | None = None) -> str:
    return f"<span{attrs(class_='num', data_num=str(value), data_key=key)}>{value:,}</span>"


def when(instant: datetime | None) -> str:
    if instant is None:
        return '<span class="muted">–</span>'
    return f'<time datetime="{esc(instant.isoformat())}">{esc(instant.strftime("%Y-%m-%d %H:%M:%S"))} UTC</time>'


def link(href: str, text: str, **extra: object) -> str:
    return f"<a{attrs(href=href, **extra)}>{esc(text)}</a>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, id_: str | None = None, empty: str = "") -> str:
    """A table of already-rendered cells (wrapped so it scrolls sideways on a phone)."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body and empty:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (
        f'<div class="scroll"><table{attrs(id=id_)}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def section(title: str, body: str, **extra: object) -> str:
    return f"<section{attrs(**extra)}><h2>{esc(title)}</h2>{body}</section>"


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden"{attrs(name=name, value=value)}>'


def select(name: str, options: Iterable[str], chosen: str | None, *, blank: str | None = None) -> str:
    items = [f'<option value="">{esc(blank)}</option>'] if blank is not None else []
    items += [f"<option{attrs(value=o, selected=o == chosen)}>{esc(o)}</option>" for o in options]
    return f"<select{attrs(name=name, aria_label=name)}>{''.join(items)}</select>"
