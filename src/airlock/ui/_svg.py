"""The UI's charts, composed from the ``report`` building blocks (frame, axes, ticks, the
SVG document): metric histories over steps (one or more runs overlaid, their legend in the
page) and figures over time windows (endpoint pages). Server-rendered; no script."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from airlock.report import PALETTE, Frame, axes, nice_ticks, svg_document, svg_escape, svg_number

__all__ = ["COLOURS", "history_chart", "time_chart"]

#: one colour per compared run (up to 10): the report palette, then four more
COLOURS = (*PALETTE, "#ca8a04", "#db2777", "#4b5563", "#65a30d")
W, H = 420, 210
_MARGINS = (56, 16, 10, 34)  # left, right, top, bottom


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def _lines(f: Frame, xs: Sequence[float], ys: Sequence[float | None], colour: str,
           label: str) -> list[str]:
    """A polyline per run of finite points (a missing value breaks the line); a lone point
    is a dot."""
    out: list[str] = []
    runs: list[list[str]] = [[]]
    for x, y in zip(xs, ys, strict=False):
        if y is None or not _finite(y) or not _finite(x):
            runs.append([])
        else:
            runs[-1].append(f"{svg_number(f.sx(x))},{svg_number(f.sy(y))}")
    tip = f"<title>{svg_escape(label)}</title>"
    for seg in runs:
        if len(seg) == 1:
            cx, cy = seg[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}">{tip}</circle>')
        elif seg:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                       f'points="{" ".join(seg)}">{tip}</polyline>')
    return out


def _empty(title: str) -> str:
    return svg_document(W, H, title, [f'<text x="{W // 2}" y="{H // 2}" text-anchor="middle" '
                                      'fill="#6b7280">no points</text>'])


def history_chart(title: str,
                  series: Sequence[tuple[str, Sequence[int], Sequence[float | None]]]) -> str:
    """Metric values over steps; ``series``: (label, steps, values), drawn in
    :data:`COLOURS` order (the page shows the legend)."""
    pts = [(s, v) for _, steps, values in series for s, v in zip(steps, values, strict=False)
           if v is not None and _finite(v)]
    if not pts:
        return _empty(title)
    xt = nice_ticks(*_span([float(p[0]) for p in pts]), count=5)
    yt = nice_ticks(*_span([float(p[1]) for p in pts]), count=4)
    f = Frame(W, H, *_MARGINS, xt[0], xt[-1], yt[0], yt[-1])
    body = axes(f, xt, yt, "step", "", "")
    for i, (label, steps, values) in enumerate(series):
        body += _lines(f, [float(s) for s in steps], values, COLOURS[i % len(COLOURS)], label)
    return svg_document(W, H, title, body)


def _time_label(t: float, span: float) -> str:
    stamp = datetime.fromtimestamp(t, tz=UTC)
    if span < 600:
        return stamp.strftime("%H:%M:%S")
    return stamp.strftime("%H:%M" if span <= 2 * 86400 else "%m-%d %H:%M")


def time_chart(title: str, times: Sequence[float],
               series: Sequence[tuple[str, Sequence[float | None]]], *, y_label: str = "",
               refs: Sequence[tuple[float, str]] = (), y_from_zero: bool = True,
               width: float = 400) -> str:
    """Figures per window over time (``times``: window starts, Unix seconds); ``refs`` are
    dashed lines (a threshold). The legend is in the page; x labels are UTC."""
    values = [float(v) for _, vs in series for v in vs if v is not None and _finite(v)]
    values += [r for r, _ in refs]
    if not values or not times:
        return _empty(title)
    if y_from_zero and max(values) <= 0:
        lo, hi = 0.0, 1.0  # all zero (no errors): a 0..1 axis, not one around zero
    else:
        lo, hi = _span(([0.0] if y_from_zero else []) + values)
    yt = nice_ticks(lo, hi, count=4)
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - 1800, t1 + 1800
    f = Frame(width, H, *_MARGINS, t0, t1, yt[0], yt[-1])
    body = axes(f, None, yt, "", y_label, "")
    base = H - _MARGINS[3]
    for i in range(5):  # the end labels align inwards, so none is cut at the edge
        t = t0 + (t1 - t0) * i / 4
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        body.append(f'<text x="{svg_number(f.sx(t))}" y="{svg_number(base + 15)}" '
                    f'text-anchor="{anchor}" fill="#4b5563">'
                    f"{svg_escape(_time_label(t, t1 - t0))}</text>")
    for value, label in refs:
        y = svg_number(f.sy(value))
        body.append(f'<line x1="{svg_number(f.left)}" y1="{y}" x2="{svg_number(width - f.right)}"'
                    f' y2="{y}" stroke="{PALETTE[1]}" stroke-dasharray="5 3">'
                    f"<title>{svg_escape(label)}</title></line>")
    for i, (label, vs) in enumerate(series):
        body += _lines(f, list(times), vs, COLOURS[i % len(COLOURS)], label)
    return svg_document(width, H, title, body)
