"""Charts as inline SVG, drawn on the server: no script, no CDN, works offline.

Every chart is an ``<svg role="img">`` with an Indonesian ``aria-label`` and a ``<title>``
per mark, so a screen reader (and a hover) gives the numbers. Only presentation attributes
are used (the dashboard's CSP allows no inline style). Text passes through ``escape``.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# Colour-blind-safe (Okabe–Ito), dark enough on white for thin lines.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#7a5c00", "#56b4e9", "#555555")
INK = "#202124"
GRID = "#dadce0"


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _num(v: float) -> str:
    return f"{int(v):,}".replace(",", ".") if float(v).is_integer() else _fmt(v)


def sparkline(values: Sequence[float], *, label: str, width: int = 140, height: int = 32) -> Markup:
    """A small line of the last days; the last point marked."""
    n = len(values)
    top = max(values, default=0) or 1
    pts = [
        (
            round(2 + i * (width - 4) / max(n - 1, 1), 1),
            round(height - 3 - v * (height - 6) / top, 1),
        )
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x},{y}" for x, y in pts)
    last = pts[-1] if pts else (0, height - 3)
    return Markup(  # noqa: S704 - every value inside is escaped or a number
        f'<svg class="spark" role="img" aria-label="{escape(label)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(label)}</title>'
        f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.5"/>'
        f'<circle cx="{last[0]}" cy="{last[1]}" r="2.5" fill="{PALETTE[1]}"/></svg>'
    )


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    label: str,
    width: int = 860,
    height: int = 240,
    y_unit: str = "",
) -> Markup:
    """Several lines over the same x axis (days, months), with a legend and gridlines."""
    left, right, top_pad, bottom = 56, 36, 12, 40
    legend_h = 18 * ((len(series) + 3) // 4)
    w, h = width - left - right, height - top_pad - bottom
    top = max((max(vals, default=0) for _, vals in series), default=0) or 1
    n = len(x_labels)

    def x(i: int) -> float:
        return round(left + (i * w / max(n - 1, 1)), 1)

    def y(v: float) -> float:
        return round(top_pad + h - v * h / top, 1)

    out = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="100%" '
        f'viewBox="0 0 {width} {height + legend_h}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(label)}</title>"
    ]
    for k in range(5):
        v = top * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(v)}" y2="{y(v)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y(v) + 4}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{escape(_num(round(v, 1)))}{escape(y_unit)}</text>'
        )
    step = max(1, n // 8)
    for i in range(0, n, step):
        out.append(
            f'<text x="{x(i)}" y="{top_pad + h + 16}" text-anchor="middle" '
            f'font-size="11" fill="{INK}">{escape(x_labels[i])}</text>'
        )
    for s, (name, vals) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        pts = " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vals))
        out.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
        for i, v in enumerate(vals):
            if v:
                out.append(
                    f'<circle cx="{x(i)}" cy="{y(v)}" r="2" fill="{colour}">'
                    f"<title>{escape(name)}, {escape(x_labels[i])}: "
                    f"{escape(_num(v))}{escape(y_unit)}</title></circle>"
                )
        lx, ly = left + (s % 4) * 200, top_pad + h + 30 + 18 * (s // 4)
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{ly}" font-size="12" fill="{INK}">'
            f"{escape(name)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every value inside is escaped or a number


def bar_chart(
    rows: Sequence[tuple[str, float, str]],
    *,
    label: str,
    width: int = 860,
    bar_h: int = 22,
    colour: str = PALETTE[0],
) -> Markup:
    """Horizontal bars: (name, value, text shown at the bar's end)."""
    name_w, pad = 240, 8
    top = max((v for _, v, _ in rows), default=0) or 1
    height = pad * 2 + len(rows) * (bar_h + 6)
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(label)}</title>"
    ]
    span = width - name_w - 90
    for i, (name, v, text) in enumerate(rows):
        y0 = pad + i * (bar_h + 6)
        bw = round(max(v, 0) * span / top, 1)
        shown = name if len(name) <= 30 else name[:29] + "…"
        out.append(
            f'<text x="{name_w - 8}" y="{y0 + bar_h * 0.7}" text-anchor="end" '
            f'font-size="12" fill="{INK}">{escape(shown)}</text>'
            f'<rect x="{name_w}" y="{y0}" width="{bw}" height="{bar_h}" fill="{colour}">'
            f"<title>{escape(name)}: {escape(text)}</title></rect>"
            f'<text x="{name_w + bw + 6}" y="{y0 + bar_h * 0.7}" font-size="12" '
            f'fill="{INK}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every value inside is escaped or a number


def funnel(stages: Sequence[tuple[str, int, int]], *, label: str, width: int = 860) -> Markup:
    """Stages as (name, reached, stalled here): a bar for all that reached the stage, its
    darker part those that are still there."""
    bar_h, pad, name_w = 26, 8, 170
    top = max((r for _, r, _ in stages), default=0) or 1
    span = width - name_w - 260
    height = pad * 2 + len(stages) * (bar_h + 8)
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="100%" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(label)}</title>"
    ]
    for i, (name, reached, stalled) in enumerate(stages):
        y0 = pad + i * (bar_h + 8)
        bw = round(reached * span / top, 1)
        sw = round(stalled * span / top, 1)
        share = f"{reached * 100 / top:.0f}%"
        text = f"{_num(reached)} ({share}), tertahan di sini {_num(stalled)}"
        out.append(
            f'<text x="{name_w - 8}" y="{y0 + bar_h * 0.68}" text-anchor="end" '
            f'font-size="12" fill="{INK}">{escape(name)}</text>'
            f'<rect x="{name_w}" y="{y0}" width="{bw}" height="{bar_h}" '
            f'fill="{PALETTE[5]}"><title>{escape(name)}: {escape(text)}</title></rect>'
            f'<rect x="{name_w}" y="{y0}" width="{sw}" height="{bar_h}" '
            f'fill="{PALETTE[0]}"><title>tertahan di {escape(name)}: '
            f"{escape(_num(stalled))}</title></rect>"
            f'<text x="{name_w + bw + 6}" y="{y0 + bar_h * 0.68}" font-size="12" '
            f'fill="{INK}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every value inside is escaped or a number
