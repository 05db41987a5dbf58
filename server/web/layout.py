"""The frame of every page: navigation, the banner (a busy database, a finished action), the content."""

from __future__ import annotations

from server.web.html import attrs, esc

NAV = (
    ("/", "Overview"),
    ("/routing", "Routing"),
    ("/flow", "Flow"),
    ("/costs", "Costs"),
    ("/performance", "Performance"),
)


def page(title: str, body: str, *, active: str, banner: str | None = None, notice: str | None = None) -> str:
    """A whole HTML document; `banner` is a problem, `notice` the result of an action."""
    nav = "".join(
        f"<a{attrs(href=href, aria_current='page' if href == active else None)}>{esc(name)}</a>" for href, name in NAV
    )
    top = ""
    if banner:
        top += f'<div class="banner" role="alert" id="banner">{esc(banner)}</div>'
    if notice:
        top += f'<div class="notice" role="status" id="notice">{esc(notice)}</div>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · provider-router</title>"
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css">'
        '<script src="/static/app.js" defer></script></head><body>'
        f'<header><span class="brand">provider-router</span><nav>{nav}</nav></header>'
        f"<main><h1>{esc(title)}</h1>{top}{body}</main>"
        "<footer>Local dashboard · reads the shared database · no key is ever shown</footer></body></html>"
    )
