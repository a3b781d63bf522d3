"""HTML pages rendered on the server (Jinja2, autoescaped) from the dicts the API returns.

Evaluation and endpoint pages put the sections of ``airlock.evaluation.report_sections`` and
``airlock.monitor.endpoint_sections`` (the offline reports' own renderers) in the UI's shell.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from airlock.report import CSS, fmt, fmt_ci, fmt_p

from ._data import AGGREGATES
from ._svg import COLOURS, history_chart

__all__ = ["NAV", "Viewer", "chart", "render", "render_compare", "render_error", "render_run",
           "render_runs", "url"]

NAV = (("/runs", "Runs"), ("/models", "Models"), ("/evaluations", "Evaluations"),
       ("/contracts", "Contracts"), ("/endpoints", "Endpoints"), ("/reports", "Reports"),
       ("/events", "Audit log"))

_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: whether writes are on, and the actor signed in (by cookie)."""

    writes: bool = False
    actor: str | None = None


def _when(ms: Any) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _iso(text: Any) -> str:
    """An ISO time (``2024-03-01T12:00:00+00:00``) as ``2024-03-01 12:00`` (with the
    seconds when they are not zero)."""
    if not text:
        return "—"
    stamp = str(text)[:19].replace("T", " ")
    return stamp[:16] if stamp.endswith(":00") else stamp


def _number(v: Any) -> str:
    """Rounded for people (the API keeps full precision); a missing value is a dash."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _pct(v: Any) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
        return "—"
    return f"{v:.2%}"


def _ms(v: Any) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
        return "—"
    return f"{v:,.1f}"


def _finite(values: list[Any]) -> list[float]:
    return [v for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _vmin(values: list[Any]) -> float | None:
    f = _finite(values)
    return min(f) if f else None


def _vmax(values: list[Any]) -> float | None:
    f = _finite(values)
    return max(f) if f else None


def _show(v: Any) -> str:
    """A payload or environment value: JSON for structures, text for the rest."""
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
    return str(v)


def _subject_link(subject: str) -> Markup:
    kind, _, rest = subject.partition("/")
    target = {"runs": "/runs/", "models": "/models/", "contracts": "/contracts/"}.get(kind)
    if target and rest:
        return Markup('<a href="{}{}">{}</a>').format(target, quote(rest, safe=""), subject)
    return escape(subject)


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def url(path: str, **params: Any) -> str:
    """``path?k=v`` with the empty parameters left out."""
    q = {k: v for k, v in params.items() if v not in ("", None, False)}
    return f"{path}?{urlencode(q, doseq=True)}" if q else path


_env.filters.update(show=_show, when=_when, number=_number, vmin=_vmin, vmax=_vmax, fmt=fmt,
                    ci=fmt_ci, pvalue=fmt_p, pct=_pct, ms=_ms, iso=_iso, q=_q)
_env.globals.update(subject_link=_subject_link, nav=NAV, report_css=Markup(CSS), url=url,
                    colours=COLOURS, zip=zip)


def chart(svg: str) -> Markup:
    """An SVG from ``report`` or ``_svg``: built from escaped pieces, safe to embed."""
    return Markup(svg)


def render(template: str, viewer: Viewer | None = None, section: str = "",
           **context: Any) -> str:
    return _env.get_template(template).render(viewer=viewer or Viewer(), section=section,
                                              **context)


def render_error(heading: str, message: str, hint: str | None = None,
                 viewer: Viewer | None = None) -> str:
    return render("error.html", viewer, heading=heading, message=message, hint=hint)


def render_runs(d: dict[str, Any], agg: str, viewer: Viewer) -> str:
    base = {"experiment": d["experiment"] or "", "filter": d["filter"],
            "order_by": d["order_by"], "per_page": d["per_page"], "agg": agg,
            "step": d["step"]}

    def here(path: str, **change: Any) -> str:
        return url(path, **{**base, **change})

    current = d["order_by"].strip().lower()

    def sort_url(key: str) -> str:
        desc = current == f"{key} desc".lower()
        return here("/runs", order_by=f"{key} {'ASC' if desc else 'DESC'}", page=None)

    def sort_mark(key: str) -> str:
        if current == f"{key} desc".lower():
            return " ▼"
        if current in (key.lower(), f"{key} asc".lower()):
            return " ▲"
        return ""

    return render("runs.html", viewer, "/runs", d=d, agg=agg, aggregates=AGGREGATES,
                  sort_url=sort_url, sort_mark=sort_mark, page_url=lambda p: here("/runs", page=p),
                  api_url=here("/api/runs", agg=None, page=d["page"]))


def _history_charts(history: dict[str, Any],
                    runs: Sequence[tuple[str, str]] | None = None) -> list[tuple[str, Markup]]:
    out = []
    for key, h in sorted(history.items()):
        if runs is None:
            series = [(key, h["steps"], h["values"])]
        else:
            series = [(label, h[rid]["steps"], h[rid]["values"]) if rid in h else (label, [], [])
                      for rid, label in runs]
        if any(len(s[1]) > 1 for s in series):
            out.append((key, chart(history_chart(key, series))))
    return out


def render_run(r: dict[str, Any], viewer: Viewer) -> str:
    return render("run.html", viewer, "/runs", r=r, charts=_history_charts(r["history"]))


def render_compare(d: dict[str, Any], viewer: Viewer) -> str:
    runs = [(r["id"], r["name"] or r["id"][:12]) for r in d["runs"]]
    return render("compare.html", viewer, "/runs", d=d, charts=_history_charts(d["history"], runs))
