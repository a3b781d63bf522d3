"""The drift report: one self-contained HTML file (inline CSS and SVG, no script, no URL).

Sections: the verdict (dataset drift, share of drifted columns), drift share per time window
when the result carries windows, the statistics table ordered by severity, and per column the
distribution of the reference against the current data (overlaid histograms for numeric
columns, paired bars for categories). Every value that came from data is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airlock._files import write_atomic
from airlock.report import (
    Bar,
    Html,
    Series,
    badge,
    bar_chart,
    esc,
    facts,
    fmt,
    fmt_p,
    line_chart,
    page,
    table,
)

from ._result import ColumnDrift, DriftResult

__all__ = ["categories_svg", "histogram_svg", "render_drift_report", "save_drift_report"]

MAX_TITLE = 60  # characters of a column's name in a chart heading (the whole one in a tooltip)
LEGEND = ('<p class="muted">Distributions: the reference in blue, the current data in red '
          "(lines: share per bin); categories: grey bars the reference, blue bars the current "
          "data.</p>")


def _title(text: str) -> str:
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def histogram_svg(title: str, edges: Sequence[float], ref: Sequence[float],
                  cur: Sequence[float], *, width: float = 420, height: float = 250) -> str:
    """The share per bin of the reference and of the current data on the same bins, as two
    step lines (the chart's legend sits under its title, never over it)."""
    def steps(shares: Sequence[float]) -> tuple[list[float | None], list[float | None]]:
        xs: list[float | None] = [edges[0]]
        ys: list[float | None] = [0.0]
        for lo, hi, s in zip(edges[:-1], edges[1:], shares, strict=False):
            xs += [lo, hi]
            ys += [s, s]
        return [*xs, edges[-1]], [*ys, 0.0]

    peak = max([*ref, *cur, 1e-9])
    lines = [Series("reference", *steps(ref)), Series("current", *steps(cur))]
    return line_chart(lines, title=title, y_label="share", x_range=None,
                      y_range=(0.0, peak), width=width, height=height)


def categories_svg(title: str, labels: Sequence[str], ref: Sequence[float],
                   cur: Sequence[float], *, height: float = 230) -> str:
    """Paired bars per category: the reference (grey) then the current data (blue)."""
    bars: list[Bar] = []
    for label, r, c in zip(labels, ref, cur, strict=True):  # one label per pair, under it
        bars.append(Bar("", r, flagged=True, note=f"{label}: {r:.2%} in the reference"))
        bars.append(Bar(label, c, note=f"{c:.2%} in the current data"))
    return bar_chart(bars, title=title, y_label="share", height=height)


def _distribution(c: ColumnDrift) -> str:
    """A column's chart under its full name as an HTML heading (it wraps; a long name in
    the SVG ran over the legend), the chart titled by what it shows."""
    d = c.distribution
    head = (f'<h3 style="max-width:420px;overflow-wrap:anywhere" title="{esc(c.column)}">'
            f'{esc(_title(c.column))} '
            f'<span class="muted">({esc(c.kind)})</span></h3>')
    if d.get("type") == "bins" and d.get("edges"):
        return head + histogram_svg("share per bin", d["edges"], d["reference"], d["current"])
    if d.get("type") == "categories" and d.get("categories"):
        return head + categories_svg("share per category", [str(x) for x in d["categories"]],
                                     d["reference"], d["current"])
    return f'<p class="muted">{esc(c.column)}: {esc(c.note or "no distribution")}</p>'


def _stat_cell(c: ColumnDrift) -> Html:
    if c.statistic is None or not math.isfinite(c.statistic):  # say why, as the JSON does
        return Html(f"{esc(fmt(c.statistic))}<small>{esc(c.why_missing(c.statistic))}</small>")
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


def _window_label(w: DriftResult, i: int) -> str:
    """A window by its start (``2024-03-01T12:00:00``), else by its position."""
    return w.window or f"window {i + 1}"


def _windows_section(result: DriftResult) -> list[str]:
    if not result.windows:
        return []
    bars = [Bar(_window_label(w, i), w.drift_share, flagged=not w.drifted,
                note=f"{w.n_drifted}/{len(w.columns)} columns drifted")
            for i, w in enumerate(result.windows)]
    chart = bar_chart(bars, title="Drift share per window", y_label="share of drifted columns",
                      refs=[(result.drift_share_threshold, "dataset drift threshold")])
    rows = [[_window_label(w, i), w.current_rows, w.n_drifted, w.drift_share,
             badge(not w.drifted, "stable", "DRIFT"), ", ".join(w.drifted_columns) or "—"]
            for i, w in enumerate(result.windows)]
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
        facts([("compared with", result.reference or "the reference"),
               ("reference rows", result.reference_rows),
               ("current rows", result.current_rows),
               ("window", result.window or "all data"),
               ("drifted columns", ", ".join(result.drifted_columns) or "none"),
               ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]),
    ]
    if result.skipped:
        body += ['<h2 id="skipped">Columns not compared</h2>',
                 table(["column", "why"], [[n, why] for n, why in result.skipped.items()])]
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
             '<h2 id="distributions">Distributions: reference vs current</h2>', LEGEND,
             '<div class="charts">']
    for c in result.by_severity():
        body.append(f'<div id="col-{esc(c.column)}">{_distribution(c)}</div>')
    body.append("</div>")
    return page(heading, body)


def save_drift_report(result: DriftResult, path: str | Path, *,
                      title: str | None = None) -> Path:
    """Write :func:`render_drift_report` of ``result`` to ``path`` atomically."""
    return write_atomic(path, render_drift_report(result, title=title))
