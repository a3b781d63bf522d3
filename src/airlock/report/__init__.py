"""Reports and model cards from stored evidence: plain HTML/Markdown with inline SVG plots.

``render_report(evaluation, decision)`` gives one self-contained HTML file of an evaluation;
``model_card(ref, format="md" | "html")`` documents a model version from what the store
holds (registration, run inputs, evaluations, decisions, overrides, alias history).
"""

from __future__ import annotations

from ._card import model_card
from ._html import Html, badge, esc, facts, fmt, fmt_p, page, render_report, table
from ._svg import Bar, Series, bar_chart, line_chart

__all__ = ["Bar", "Html", "Series", "badge", "bar_chart", "esc", "facts", "fmt", "fmt_p",
           "line_chart", "model_card", "page", "render_report", "table"]
