"""Charts drawn on the server as inline SVG (no chart library, no script): bars, lines, a sparkline and the flow
picture. Only presentation attributes (no style attributes: the page's CSP forbids inline styles).

Every chart scales to its container (a viewBox and `width="100%"`; on a phone a wide one keeps 720 px, so its text
stays readable, and scrolls sideways in its box) and keeps its labels inside the viewBox: the first and last axis
labels are anchored at the ends, the legend wraps onto more rows, the flow picture leaves room for its last
column's labels (text widths are estimated from the font size)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from server.web.html import esc

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


#: a generous average glyph width as a share of the font size (system-ui, digits and lowercase)
_GLYPH = 0.62


def text_width(text: str, font_size: float) -> float:
    """The estimated width of `text` drawn at `font_size` (user units)."""
    return len(text) * font_size * _GLYPH


#: the wide charts' own width: about a desktop page's, so their text shows near its size there
WIDE = 960


def _svg(width: float, height: float, body: str, label: str) -> str:
    wide = width >= WIDE
    svg = (
        f'<svg class="chart{" wide" if wide else ""}" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
        f'role="img" aria-label="{esc(label)}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )
    # on a phone a wide chart keeps a readable width and scrolls sideways in its box (app.css), not the page
    return f'<div class="chart-box">{svg}</div>' if wide else svg


def _legend(names: Sequence[str], left: float, right: float) -> tuple[str, float]:
    """Legend entries flowing left to right from `left`, wrapping before `right`; the SVG and its height."""
    drawn, x, y = "", left, 4.0
    for n, name in enumerate(names):
        shown = name[:24]
        span = 14 + text_width(shown, 11) + 16
        if x > left and x + span > right:
            x, y = left, y + 16
        drawn += (
            f'<rect x="{x:.1f}" y="{y:.0f}" width="10" height="10" fill="{colour(n)}"/>'
            f'<text x="{x + 14:.1f}" y="{y + 9:.0f}" font-size="11" fill="#334155">{esc(shown)}</text>'
        )
        x += span
    return drawn, y + 16


def sparkline(values: Sequence[int], label: str) -> str:
    width, height = 240, 40
    top = max(values, default=0) or 1
    step = width / max(1, len(values))
    bars = "".join(
        f'<rect x="{i * step:.1f}" y="{height - v / top * height:.1f}" width="{max(step - 1, 1):.1f}" '
        f'height="{v / top * height:.1f}" fill="#2563eb"><title>{v}</title></rect>'
        for i, v in enumerate(values)
        if v
    )
    return _svg(width, height, f'<rect width="{width}" height="{height}" fill="#f1f5f9"/>{bars}', label)


def with_unit(number: str, unit: str) -> str:
    """`number` with its unit where a reader expects it: a currency sign before ($50), any other unit after (50ms)."""
    return f"{unit}{number}" if unit == "$" else f"{number}{unit}"


def bars(items: Sequence[tuple[str, float]], label: str, *, unit: str = "$") -> str:
    """Horizontal bars, one per (name, value)."""
    if not items:
        return ""
    width, row, start = WIDE, 24, 220
    top = max(v for _, v in items) or 1
    body = ""
    for i, (name, value) in enumerate(items):
        y = i * row
        length = value / top * (width - start - 130)
        shown = with_unit(f"{value:,.4f}" if unit == "$" else f"{value:,.0f}", unit)
        body += (
            f'<text x="0" y="{y + 16}" font-size="12" fill="#334155">{esc(name[:28])}</text>'
            f'<rect x="{start}" y="{y + 4}" width="{length:.1f}" height="16" rx="2" fill="{colour(i)}">'
            f"<title>{esc(name)}: {esc(shown)}</title></rect>"
            f'<text x="{start + 6 + length:.1f}" y="{y + 16}" font-size="11" fill="#475569">{esc(shown)}</text>'
        )
    return _svg(width, row * len(items) + 4, body, label)


def _series(points: Sequence[str | None], stroke: str) -> str:
    """One series as polylines broken at each gap (None); a lone point is a dot."""
    segments: list[list[str]] = [[]]
    for point in points:
        if point is None:
            segments.append([])
        else:
            segments[-1].append(point)
    drawn = ""
    for seg in segments:
        if len(seg) == 1:
            cx, cy = seg[0].split(",")
            drawn += f'<circle cx="{cx}" cy="{cy}" r="3" fill="{stroke}"/>'
        elif seg:
            drawn += f'<polyline points="{" ".join(seg)}" fill="none" stroke="{stroke}" stroke-width="2"/>'
    return drawn


def lines(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    label: str,
    *,
    cap: float | None = None,
    unit: str = "",
) -> str:
    """Lines over `x_labels` (a None value is a gap), a legend, and an optional horizontal cap line."""
    if not x_labels:
        return '<p class="muted">No data in this period yet.</p>'
    values = [v for s in series.values() for v in s if v is not None] + ([cap] if cap else [])
    top = max(values, default=0) or 1
    top_label = with_unit(f"{top:,.4g}", unit)
    width, bottom = WIDE, 24
    left = max(40.0, text_width(top_label, 10) + 8)
    legend, head = _legend(list(series), left + 8, width - 8)
    plot_w, plot_h = width - left - 8, 172
    height = head + plot_h + bottom
    step = plot_w / max(1, len(x_labels) - 1)
    base = head + plot_h

    def xy(i: int, v: float) -> str:
        return f"{left + i * step:.1f},{base - v / top * plot_h:.1f}"

    body = f'<line x1="{left:.1f}" y1="{base:.1f}" x2="{width - 8}" y2="{base:.1f}" stroke="#cbd5e1"/>'
    body += (
        f'<text x="{left - 4:.1f}" y="{head + 6:.1f}" font-size="10" text-anchor="end" fill="#64748b">'
        f"{esc(top_label)}</text>"
        f'<text x="{left - 4:.1f}" y="{base:.1f}" font-size="10" text-anchor="end" fill="#64748b">0</text>'
    )
    last = len(x_labels) - 1
    for i in sorted({0, last, last // 2}):
        anchor = "start" if i == 0 else "end" if i == last else "middle"
        x = left if i == 0 else width - 8 if i == last else left + i * step
        body += (
            f'<text x="{x:.1f}" y="{height - 6:.1f}" font-size="10" text-anchor="{anchor}" '
            f'fill="#64748b">{esc(x_labels[i])}</text>'
        )
    if cap:
        y = base - cap / top * plot_h
        body += (
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" stroke="#dc2626" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{width - 10}" y="{max(y - 4, head + 8):.1f}" font-size="10" text-anchor="end" '
            'fill="#dc2626">cap</text>'
        )
    for n, points in enumerate(series.values()):
        body += _series([xy(i, v) if v is not None else None for i, v in enumerate(points)], colour(n))
    return _svg(width, height, legend + body, label)


def flow(
    columns: Sequence[Sequence[str]], links: Sequence[tuple[str, str, int]], label: str, *, totals: Mapping[str, int]
) -> str:
    """Columns of nodes (each sized by `totals`) joined by bands as wide as their counts."""
    width, height, node_w = WIDE, 340, 14
    last_labels = [f"{name} ({totals.get(name, 0)})" for name in (columns[-1] if columns else ())]
    room = max((text_width(text, 12) for text in last_labels), default=0.0) + node_w + 8
    grand = max(1, max((sum(totals.get(n, 0) for n in col) for col in columns), default=1))
    scale = (height - 20 - 8 * max(len(c) for c in columns)) / grand
    place: dict[str, tuple[float, float]] = {}
    nodes = ""
    for c, col in enumerate(columns):
        x = 10 + c * (width - 10 - room) / max(1, len(columns) - 1)
        y = 10.0
        for i, name in enumerate(col):
            h = max(2.0, totals.get(name, 0) * scale)
            place[f"{c}:{name}"] = (x, y)
            nodes += (
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{colour(i + 3 * c)}">'
                f"<title>{esc(name)}: {totals.get(name, 0)}</title></rect>"
                f'<text x="{x + node_w + 4:.1f}" y="{y + min(h, 20) / 2 + 4:.1f}" font-size="12" fill="#0f172a">'
                f"{esc(name)} ({totals.get(name, 0)})</text>"
            )
            y += h + 8
    body = ""
    out_offset: dict[str, float] = {}
    in_offset: dict[str, float] = {}
    for source, target, n in links:
        column = next((c for c in range(len(columns) - 1) if source in columns[c] and target in columns[c + 1]), None)
        if column is None:
            continue
        sx, sy = place[f"{column}:{source}"]
        tx, ty = place[f"{column + 1}:{target}"]
        w = max(1.0, n * scale)
        sy += out_offset.get(f"{column}:{source}", 0) + w / 2
        ty += in_offset.get(f"{column + 1}:{target}", 0) + w / 2
        out_offset[f"{column}:{source}"] = out_offset.get(f"{column}:{source}", 0) + w
        in_offset[f"{column + 1}:{target}"] = in_offset.get(f"{column + 1}:{target}", 0) + w
        x1, x2 = sx + node_w, tx
        mid = (x1 + x2) / 2
        body += (
            f'<path d="M{x1:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} {x2:.1f},{ty:.1f}" fill="none" '
            f'stroke="#94a3b8" stroke-opacity="0.5" stroke-width="{w:.1f}"><title>{esc(source)} → {esc(target)}: {n}'
            "</title></path>"
        )
    return _svg(width, height, body + nodes, label)
