"""A small server-side SVG line chart (metric history over steps, one or more series)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "line_chart"]

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
W, H, LEFT, RIGHT, TOP, BOTTOM = 420, 200, 56, 12, 12, 28


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def line_chart(title: str, series: Sequence[tuple[str, Sequence[int], Sequence[float | None]]]
               ) -> str:
    """``series``: (label, steps, values); missing values break the line. Returns <svg>."""
    pts = [(s, v) for _, steps, values in series for s, v in zip(steps, values, strict=True)
           if v is not None and math.isfinite(v)]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {W} {H}" width="{W}" height="{H}"><title>{escape(title)}</title>')
    if not pts:
        return head + f'<text x="{W // 2}" y="{H // 2}" text-anchor="middle">no points</text></svg>'
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.05 or 1.0
        y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT)

    def py(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM)

    parts = [head,
             f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" '
             f'height="{H - TOP - BOTTOM}" fill="none" stroke="#ccc"/>']
    for y in (y0, (y0 + y1) / 2, y1):
        parts.append(f'<text x="{LEFT - 4}" y="{py(y) + 4:.1f}" text-anchor="end" '
                     f'font-size="10">{_fmt(y)}</text>')
    for x in (x0, x1):
        parts.append(f'<text x="{px(x):.1f}" y="{H - 10}" text-anchor="middle" '
                     f'font-size="10">{_fmt(x)}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 1}" text-anchor="middle" '
                 'font-size="10">step</text>')
    for i, (label, steps, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for s, v in zip(steps, values, strict=True):
            if v is None or not math.isfinite(v):
                runs.append([])
            else:
                runs[-1].append(f"{px(s):.1f},{py(v):.1f}")
        for seg in runs:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}">'
                             f'<title>{escape(label)}</title></circle>')
            elif seg:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                             f'points="{" ".join(seg)}"><title>{escape(label)}</title>'
                             '</polyline>')
    parts.append("</svg>")
    return "".join(parts)
