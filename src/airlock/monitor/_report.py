"""The drift report: one self-contained HTML file (inline CSS and SVG, no script, no URL).

Sections: the verdict (dataset drift, share of drifted columns), drift share per time window
when the result carries windows, the statistics table ordered by severity, and per column the
distribution of the reference against the current data (overlaid histograms for numeric
columns, paired bars for categories). Every value that came from data is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airlock.report import (
    PALETTE,
    Bar,
    Html,
    badge,
    bar_chart,
    esc,
    facts,
    fmt,
    fmt_p,
    nice_ticks,
    page,
    table,
)
from airlock.report import Frame as _Frame
from airlock.report import axes as _axes
from airlock.report import svg_document as _svg
from airlock.report import svg_escape as _esc
from airlock.report import svg_number as _n

from ._result import ColumnDrift, DriftResult

__all__ = ["render_drift_report"]

REF_COLOR, CUR_COLOR = PALETTE[0], PALETTE[1]
MAX_LABEL = 16


def _legend(f: _Frame) -> list[str]:
    out = []
    for i, (label, color) in enumerate((("reference", REF_COLOR), ("current", CUR_COLOR))):
        x = f.width - f.right - 150 + 78 * i
        out.append(f'<rect x="{_n(x)}" y="7" width="10" height="10" fill="{color}" '
                   'fill-opacity="0.55"/>')
        out.append(f'<text x="{_n(x + 14)}" y="16">{label}</text>')
    return out


def histogram_svg(title: str, edges: Sequence[float], ref: Sequence[float],
                  cur: Sequence[float], *, width: float = 420, height: float = 230) -> str:
    """Two overlaid histograms (shares per bin) on the same bins."""
    peak = max([*ref, *cur, 1e-9])
    yt = nice_ticks(0.0, peak, 4)
    xt = nice_ticks(edges[0], edges[-1], 5)
    xt = [x for x in xt if edges[0] <= x <= edges[-1]] or [edges[0], edges[-1]]
    f = _Frame(width, height, 48, 12, 26, 34, edges[0], edges[-1], yt[0], yt[-1])
    body = _axes(f, xt, yt, "", "share", title)
    for shares, color in ((ref, REF_COLOR), (cur, CUR_COLOR)):
        for lo, hi, s in zip(edges[:-1], edges[1:], shares, strict=False):
            if s <= 0:
                continue
            top = f.sy(s)
            body.append(f'<rect x="{_n(f.sx(lo))}" y="{_n(top)}" '
                        f'width="{_n(max(0.5, f.sx(hi) - f.sx(lo)))}" '
                        f'height="{_n(f.sy(0) - top)}" fill="{color}" fill-opacity="0.45">'
                        f"<title>{_esc(f'[{lo:.4g}, {hi:.4g}): {s:.2%}')}</title></rect>")
    body += _legend(f)
    return _svg(width, height, title, body)


def categories_svg(title: str, labels: Sequence[str], ref: Sequence[float],
                   cur: Sequence[float], *, height: float = 230) -> str:
    """Paired bars (reference, current) per category."""
    longest = min(MAX_LABEL, max((len(x) for x in labels), default=4))
    bottom = 22 + longest * 4.6
    width = max(420.0, 80 + 34 * len(labels))
    peak = max([*ref, *cur, 1e-9])
    yt = nice_ticks(0.0, peak, 4)
    f = _Frame(width, height + bottom, 48, 12, 26, bottom, 0, 1, yt[0], yt[-1])
    body = _axes(f, None, yt, "", "share", title)
    slot = (width - f.left - f.right) / max(1, len(labels))
    w = min(14.0, slot * 0.38)
    for i, label in enumerate(labels):
        x0 = f.left + slot * i + slot / 2 - w
        for j, (shares, color) in enumerate(((ref, REF_COLOR), (cur, CUR_COLOR))):
            s = shares[i]
            top = f.sy(s)
            body.append(f'<rect x="{_n(x0 + j * w)}" y="{_n(top)}" width="{_n(w)}" '
                        f'height="{_n(f.sy(0) - top)}" fill="{color}" fill-opacity="0.75">'
                        f"<title>{_esc(f'{label}: {s:.2%}')}</title></rect>")
        short = label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
        cx, y = x0 + w, f.height - f.bottom + 12
        body.append(f'<text x="{_n(cx)}" y="{_n(y)}" text-anchor="end" '
                    f'transform="rotate(-35 {_n(cx)} {_n(y)})">{_esc(short)}'
                    f"<title>{_esc(label)}</title></text>")
    body += _legend(f)
    return _svg(width, height + bottom, title, body)


def _distribution(c: ColumnDrift) -> str:
    d = c.distribution
    title = f"{c.column} ({c.kind})"
    if d.get("type") == "bins" and d.get("edges"):
        return histogram_svg(title, d["edges"], d["reference"], d["current"])
    if d.get("type") == "categories" and d.get("categories"):
        return categories_svg(title, [str(x) for x in d["categories"]], d["reference"],
                              d["current"])
    return f'<p class="muted">{esc(c.column)}: {esc(c.note or "no distribution")}</p>'


def _stat_cell(c: ColumnDrift) -> Html:
    if c.statistic is None:
        return Html("—")
    text = fmt(c.statistic)
    if c.approximate and c.error_bound is not None:
        text += f" ± {fmt(c.error_bound)}"
    return esc(text)


def _rate_change(c: ColumnDrift) -> str:
    change = c.missing_rate_change
    return f"{c.current_missing_rate:.2%} ({'+' if change >= 0 else ''}{change:.2%})"


def _stats_rows(result: DriftResult) -> tuple[list[list[Any]], list[str]]:
    rows, classes = [], []
    for c in result.by_severity():
        new = ", ".join(c.new_categories[:5]) + ("…" if len(c.new_categories) > 5 else "")
        rows.append([Html(f'<a href="#col-{esc(c.column)}">{esc(c.column)}</a>'), c.kind,
                     c.method, _stat_cell(c), esc(fmt_p(c.p_value)), c.threshold,
                     badge(not c.drifted, "stable", "DRIFT"), round(c.severity, 3),
                     esc(_rate_change(c)),
                     "—" if c.out_of_range_rate is None else f"{c.out_of_range_rate:.2%}",
                     new or "—"])
        classes.append("bad" if c.drifted else "")
    return rows, classes


def _windows_section(result: DriftResult) -> list[str]:
    if not result.windows:
        return []
    bars = [Bar(w.window or f"#{i}", w.drift_share, flagged=not w.drifted,
                note=f"{w.n_drifted}/{len(w.columns)} columns drifted")
            for i, w in enumerate(result.windows)]
    chart = bar_chart(bars, title="Drift share per window", y_label="share of drifted columns",
                      refs=[(result.drift_share_threshold, "dataset drift threshold")])
    rows = [[w.window, w.current_rows, w.n_drifted, w.drift_share,
             badge(not w.drifted, "stable", "DRIFT"), ", ".join(w.drifted_columns) or "—"]
            for w in result.windows]
    return ["<h2 id=\"windows\">Drift over time</h2>",
            '<p class="muted">Grey bars: windows below the dataset drift threshold.</p>',
            f'<div class="charts">{chart}</div>',
            table(["window", "rows", "drifted columns", "drift share", "verdict", "which"],
                  rows, numeric=[1, 2, 3])]


def render_drift_report(result: DriftResult, *, title: str | None = None) -> str:
    """The whole HTML document for ``result``."""
    heading = title or "Data drift report"
    verdict = badge(not result.drifted, "no dataset drift", "DATASET DRIFT")
    rows, classes = _stats_rows(result)
    body = [
        f"<h1>{esc(heading)}</h1>",
        f"<p>{verdict} — {result.n_drifted} of {len(result.columns)} columns drifted "
        f"(share {result.drift_share:.2f}; dataset drift at ≥ "
        f"{result.drift_share_threshold:.2f})</p>",
        facts([("reference rows", result.reference_rows),
               ("current rows", result.current_rows),
               ("window", result.window or "all data"),
               ("drifted columns", ", ".join(result.drifted_columns) or "none"),
               ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]),
    ]
    if result.approximate:
        body.append('<p class="muted">Statistics marked ± were computed from a reference '
                    "profile's sketch; the figure after ± bounds their error.</p>")
    body += _windows_section(result)
    body += ['<h2 id="statistics">Statistics, by severity</h2>',
             '<p class="muted">Severity: statistic / threshold for distances, '
             "log(p) / log(threshold) for tests; ≥ 1 means drift. Missing: the current "
             "missing-value rate (its change against the reference). Out of range: current "
             "values outside the reference's min..max, or in categories the reference never "
             "had.</p>",
             table(["column", "kind", "method", "statistic", "p-value", "threshold", "verdict",
                    "severity", "missing", "out of range", "new categories"], rows,
                   row_classes=classes, numeric=[3, 4, 5, 7]),
             '<h2 id="distributions">Distributions: reference vs current</h2>',
             '<div class="charts">']
    for c in result.by_severity():
        body.append(f'<div id="col-{esc(c.column)}">{_distribution(c)}</div>')
    body.append("</div>")
    return page(heading, body)
