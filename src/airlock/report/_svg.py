"""Tiny plots as plain inline SVG: a line chart, a bar chart with CI whiskers and a
reliability diagram. No plotting library, no script, no external reference: the markup is
well-formed XML (every text escaped) and renders inside any HTML file opened offline.

The ``<svg>`` root carries no ``xmlns``: inline SVG in HTML does not need one, and so the
report holds no URL at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, TypeGuard

__all__ = ["PALETTE", "Bar", "Frame", "Series", "axes", "bar_chart", "legend", "line_chart",
           "nice_ticks", "reliability_diagram", "svg_document", "svg_escape", "svg_number"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
MAX_POINTS = 600  # a curve is thinned to this many points; enough for a 400px plot
MAX_LABEL = 22  # characters of a bar label shown under the axis (the full one in a tooltip)


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart; points where x or y is None are skipped."""

    label: str
    xs: Sequence[float | None]
    ys: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a value with an optional CI; ``flagged`` bars are drawn grey."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class _Frame:
    """Plot area inside an SVG of ``width`` x ``height`` and the data ranges it maps."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0

    def sx(self, x: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (x - self.x0) / span * (self.width - self.left - self.right)

    def sy(self, y: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.height - self.bottom - (y - self.y0) / span * (
            self.height - self.top - self.bottom)


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def _n(x: float) -> str:
    """A coordinate: one decimal is plenty at screen resolution."""
    return f"{x:.1f}"


def _tick_label(x: float) -> str:
    return f"{x:.6g}"


def _finite(x: object) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten)."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _svg(width: float, height: float, title: str, body: Iterable[str]) -> str:
    return (f'<svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
            f'height="{_n(height)}" role="img" aria-label="{_esc(title)}" '
            'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">'
            f"<title>{_esc(title)}</title>" + "".join(body) + "</svg>")


def _axes(f: _Frame, xticks: Sequence[float] | None, yticks: Sequence[float],
          x_label: str, y_label: str, title: str) -> list[str]:
    """Grid, tick labels, axis labels and the title of a frame."""
    out = [f'<text x="{_n(f.left)}" y="16" font-size="13" font-weight="600">'
           f"{_esc(title)}</text>"]
    x_end, y_base = f.width - f.right, f.height - f.bottom
    for t in yticks:
        y = f.sy(t)
        out.append(f'<line x1="{_n(f.left)}" y1="{_n(y)}" x2="{_n(x_end)}" y2="{_n(y)}" '
                   'stroke="#e5e7eb"/>')
        out.append(f'<text x="{_n(f.left - 6)}" y="{_n(y + 4)}" text-anchor="end" '
                   f'fill="#4b5563">{_esc(_tick_label(t))}</text>')
    for t in xticks or ():
        x = f.sx(t)
        out.append(f'<line x1="{_n(x)}" y1="{_n(f.top)}" x2="{_n(x)}" y2="{_n(y_base)}" '
                   'stroke="#f3f4f6"/>')
        out.append(f'<text x="{_n(x)}" y="{_n(y_base + 15)}" text-anchor="middle" '
                   f'fill="#4b5563">{_esc(_tick_label(t))}</text>')
    out.append(f'<rect x="{_n(f.left)}" y="{_n(f.top)}" width="{_n(x_end - f.left)}" '
               f'height="{_n(y_base - f.top)}" fill="none" stroke="#9ca3af"/>')
    if x_label:
        out.append(f'<text x="{_n((f.left + x_end) / 2)}" y="{_n(f.height - 6)}" '
                   f'text-anchor="middle" fill="#374151">{_esc(x_label)}</text>')
    if y_label:
        cy = (f.top + y_base) / 2
        out.append(f'<text x="14" y="{_n(cy)}" text-anchor="middle" fill="#374151" '
                   f'transform="rotate(-90 14 {_n(cy)})">{_esc(y_label)}</text>')
    return out


def _points(xs: Sequence[float | None], ys: Sequence[float | None]) -> list[tuple[float, float]]:
    pts = [(float(x), float(y)) for x, y in zip(xs, ys, strict=False)
           if _finite(x) and _finite(y)]
    if len(pts) <= MAX_POINTS:
        return pts
    stride = math.ceil(len(pts) / MAX_POINTS)
    return pts[::stride] + ([pts[-1]] if (len(pts) - 1) % stride else [])


def _legend(f: _Frame, labels: Sequence[str]) -> list[str]:
    out = []
    for i, label in enumerate(labels):
        y = f.top + 14 + 15 * i
        x = f.width - f.right - 130
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 16)}" y2="{_n(y - 4)}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{_n(x + 20)}" y="{_n(y)}">{_esc(label[:24])}</text>')
    return out


def line_chart(series: Sequence[Series], *, title: str, x_label: str = "", y_label: str = "",
               x_range: tuple[float, float] | None = (0.0, 1.0),
               y_range: tuple[float, float] | None = (0.0, 1.0),
               diagonal: bool = False, width: float = 420, height: float = 320) -> str:
    """Lines through each series' points; a range of None fits the data."""
    curves = [(s.label, _points(s.xs, s.ys)) for s in series]
    every = [p for _, pts in curves for p in pts]
    xr = x_range or _span([p[0] for p in every])
    yr = y_range or _span([p[1] for p in every])
    xt, yt = nice_ticks(*xr), nice_ticks(*yr)
    f = _Frame(width, height, 52, 14, 28, 38, xt[0], xt[-1], yt[0], yt[-1])
    body = _axes(f, xt, yt, x_label, y_label, title)
    if diagonal:
        body.append(f'<line x1="{_n(f.sx(0))}" y1="{_n(f.sy(0))}" x2="{_n(f.sx(1))}" '
                    f'y2="{_n(f.sy(1))}" stroke="#9ca3af" stroke-dasharray="4 4"/>')
    for i, (label, pts) in enumerate(curves):
        if not pts:
            continue
        coords = " ".join(f"{_n(f.sx(x))},{_n(f.sy(y))}" for x, y in pts)
        body.append(f'<polyline points="{coords}" fill="none" stroke-width="2" '
                    f'stroke="{PALETTE[i % len(PALETTE)]}"><title>{_esc(label)}</title>'
                    "</polyline>")
    if not every:
        body.append(f'<text x="{_n(width / 2)}" y="{_n(height / 2)}" text-anchor="middle" '
                    'fill="#6b7280">no data</text>')
    if len(curves) > 1:
        body += _legend(f, [label for label, _ in curves])
    return _svg(width, height, title, body)


def _span(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return (0.0, 1.0)
    lo, hi = min(values), max(values)
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _bar_range(bars: Sequence[Bar], refs: Sequence[tuple[float, str]]) -> list[float]:
    values = [v for b in bars for v in (b.value, b.low, b.high) if _finite(v)]
    values += [r for r, _ in refs]
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    return nice_ticks(lo, hi if hi > lo else lo + 1.0)


def _bar(f: _Frame, b: Bar, x: float, w: float, color: str) -> list[str]:
    zero = f.sy(0.0)
    tip = b.label + (f" — {b.note}" if b.note else "")
    if not _finite(b.value):
        return [f'<text x="{_n(x + w / 2)}" y="{_n(zero - 4)}" text-anchor="middle" '
                f'fill="#6b7280" font-size="9">n/a<title>{_esc(tip)}</title></text>']
    top = f.sy(b.value)
    out = [f'<rect x="{_n(x)}" y="{_n(min(top, zero))}" width="{_n(w)}" '
           f'height="{_n(abs(zero - top))}" fill="{color}"><title>{_esc(tip)}</title></rect>']
    if _finite(b.low) and _finite(b.high):
        cx, y_lo, y_hi = x + w / 2, f.sy(b.low), f.sy(b.high)
        out.append(f'<path d="M{_n(cx)} {_n(y_lo)}V{_n(y_hi)}M{_n(cx - w / 4)} {_n(y_lo)}'
                   f'h{_n(w / 2)}M{_n(cx - w / 4)} {_n(y_hi)}h{_n(w / 2)}" '
                   'stroke="#111827" stroke-width="1.2" fill="none"/>')
    return out


def _bar_label(f: _Frame, label: str, cx: float) -> str:
    short = label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
    y = f.height - f.bottom + 12
    return (f'<text x="{_n(cx)}" y="{_n(y)}" text-anchor="end" '
            f'transform="rotate(-35 {_n(cx)} {_n(y)})">{_esc(short)}'
            f"<title>{_esc(label)}</title></text>")


def bar_chart(bars: Sequence[Bar], *, title: str, y_label: str = "",
              refs: Sequence[tuple[float, str]] = (), height: float = 300) -> str:
    """Vertical bars from zero with CI whiskers; ``refs`` are dashed reference lines."""
    longest = min(MAX_LABEL, max((len(b.label) for b in bars), default=4))
    bottom = 24 + longest * 4.2
    left = max(56.0, longest * 4.8 - 8)  # room for the first label, rotated to the left
    width = max(360.0, 70 + 38 * len(bars)) + left - 56
    yt = _bar_range(bars, refs)
    f = _Frame(width, height + bottom, left, 16, 28, bottom, 0, 1, yt[0], yt[-1])
    body = _axes(f, None, yt, "", y_label, title)
    slot = (width - f.left - f.right) / max(1, len(bars))
    w = min(28.0, slot * 0.7)
    for i, b in enumerate(bars):
        x = f.left + slot * i + (slot - w) / 2
        body += _bar(f, b, x, w, "#9ca3af" if b.flagged else PALETTE[0])
        body.append(_bar_label(f, b.label, x + w / 2))
    if yt[0] < 0 < yt[-1]:
        body.append(f'<line x1="{_n(f.left)}" y1="{_n(f.sy(0))}" x2="{_n(width - f.right)}" '
                    f'y2="{_n(f.sy(0))}" stroke="#374151"/>')
    for value, label in refs:
        y = f.sy(value)
        body.append(f'<line x1="{_n(f.left)}" y1="{_n(y)}" x2="{_n(width - f.right)}" '
                    f'y2="{_n(y)}" stroke="{PALETTE[1]}" stroke-dasharray="5 3"/>')
        below = y - f.top < 14  # a line at the top of the plot: its label goes under it
        body.append(f'<text x="{_n(width - f.right - 4)}" y="{_n(y + 12 if below else y - 4)}" '
                    f'text-anchor="end" fill="{PALETTE[1]}">{_esc(label)}</text>')
    return _svg(width, height + bottom, title, body)


def reliability_diagram(bins: Mapping[str, Sequence[Any]], *,
                        title: str = "Reliability diagram") -> str:
    """Mean predicted probability against the observed fraction of positives per bin,
    with the diagonal of perfect calibration and the bins' counts as a strip below."""
    width, plot, strip = 420.0, 300.0, 56.0
    f = _Frame(width, plot + strip, 52, 14, 28, 38 + strip)
    ticks = nice_ticks(0.0, 1.0)
    body = _axes(f, ticks, ticks, "", "fraction of positives", title)
    body.append(f'<text x="{_n((f.left + width - f.right) / 2)}" y="{_n(plot + strip - 4)}" '
                'text-anchor="middle" fill="#374151">mean predicted probability '
                "(bars: rows per bin)</text>")
    body.append(f'<line x1="{_n(f.sx(0))}" y1="{_n(f.sy(0))}" x2="{_n(f.sx(1))}" '
                f'y2="{_n(f.sy(1))}" stroke="#9ca3af" stroke-dasharray="4 4"/>')
    body += _count_strip(f, bins, top=f.height - f.bottom + 22, height=strip - 22)
    pts = _points(bins.get("mean_predicted", []), bins.get("fraction_positive", []))
    if pts:
        coords = " ".join(f"{_n(f.sx(x))},{_n(f.sy(y))}" for x, y in pts)
        body.append(f'<polyline points="{coords}" fill="none" stroke="{PALETTE[0]}" '
                    'stroke-width="2"/>')
    counts = list(bins.get("count", []))
    for i, (x, y) in enumerate(zip(bins.get("mean_predicted", []),
                                   bins.get("fraction_positive", []), strict=False)):
        if _finite(x) and _finite(y):
            n = counts[i] if i < len(counts) else "?"
            body.append(f'<circle cx="{_n(f.sx(x))}" cy="{_n(f.sy(y))}" r="3.5" '
                        f'fill="{PALETTE[0]}"><title>{_esc(f"predicted {x:.3f}, observed ")}'
                        f"{_esc(f'{y:.3f}, n={n}')}</title></circle>")
    return _svg(width, plot + strip, title, body)


def _count_strip(f: _Frame, bins: Mapping[str, Sequence[Any]], *, top: float,
                 height: float) -> list[str]:
    lows, highs = bins.get("bin_low", []), bins.get("bin_high", [])
    counts = [c if _finite(c) else 0 for c in bins.get("count", [])]
    peak = max(counts, default=0) or 1
    out = []
    for lo, hi, c in zip(lows, highs, counts, strict=False):
        if not (_finite(lo) and _finite(hi)) or not c:
            continue
        h = height * c / peak
        out.append(f'<rect x="{_n(f.sx(lo) + 0.5)}" y="{_n(top + height - h)}" '
                   f'width="{_n(max(0.5, f.sx(hi) - f.sx(lo) - 1))}" height="{_n(h)}" '
                   f'fill="#cbd5e1"><title>{_esc(f"[{lo:g}, {hi:g}): {c} rows")}</title></rect>')
    return out


# the pieces other pages compose their own charts from (public names of the helpers above)
Frame = _Frame
svg_escape = _esc
svg_number = _n
svg_document = _svg
axes = _axes
legend = _legend
