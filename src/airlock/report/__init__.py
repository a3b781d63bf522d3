"""HTML building blocks, nothing else: escaping, number formatting, tables, fact lists,
badges, the page shell, and small inline-SVG charts with their axes and legends. Each
capability renders its own pages from its typed results with these (the evaluation page is
in ``airlock.evaluation``, model cards in ``airlock.evidence``, monitoring pages in
``airlock.monitor``); ``report`` imports nothing above it.
"""

from __future__ import annotations

from ._pieces import (
    CSS,
    Html,
    badge,
    cell_ci,
    ci_bar,
    compact,
    decision_rows,
    esc,
    evidence_html,
    facts,
    fmt,
    fmt_ci,
    fmt_p,
    mono,
    num,
    page,
    parts,
    short,
    table,
)
from ._svg import (
    PALETTE,
    Bar,
    Frame,
    Series,
    axes,
    bar_chart,
    legend,
    line_chart,
    nice_ticks,
    reliability_diagram,
    svg_document,
    svg_escape,
    svg_number,
)

__all__ = ["CSS", "PALETTE", "Bar", "Frame", "Html", "Series", "axes", "badge", "bar_chart",
           "cell_ci", "ci_bar", "compact", "decision_rows", "esc", "evidence_html", "facts",
           "fmt", "fmt_ci", "fmt_p", "legend", "line_chart", "mono", "nice_ticks", "num", "page",
           "parts", "reliability_diagram", "short", "svg_document", "svg_escape", "svg_number",
           "table"]
