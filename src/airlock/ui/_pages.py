"""HTML pages rendered on the server (Jinja2, autoescaped) from the dicts of ``_data``."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from ._data import AGGREGATES
from ._svg import PALETTE, line_chart

__all__ = ["render", "render_compare", "render_error", "render_run", "render_runs"]

_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)


def _when(ms: Any) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _number(v: Any) -> str:
    """Rounded for people (the API keeps full precision); a missing value is a dash."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:.6g}" if isinstance(v, float) else str(v)


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
    if kind == "runs" and rest:
        return Markup('<a href="/runs/{}">{}</a>').format(quote(rest, safe=""), subject)
    if kind == "models" and rest:
        return Markup('<a href="/models/{}">{}</a>').format(quote(rest, safe=""), subject)
    return escape(subject)


_env.filters.update(show=_show, when=_when, number=_number, vmin=_vmin, vmax=_vmax)
_env.globals.update(subject_link=_subject_link)


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def render_error(heading: str, message: str, hint: str | None = None) -> str:
    return render("error.html", heading=heading, message=message, hint=hint)


def render_runs(d: dict[str, Any], agg: str) -> str:
    base = {"experiment": d["experiment"] or "", "filter": d["filter"],
            "order_by": d["order_by"], "per_page": d["per_page"], "agg": agg}

    def url(path: str, **change: Any) -> str:
        q = {k: v for k, v in {**base, **change}.items() if v not in ("", None)}
        return f"{path}?{urlencode(q)}" if q else path

    current = d["order_by"].strip().lower()

    def sort_url(key: str) -> str:
        desc = current == f"{key} desc".lower()
        return url("/runs", order_by=f"{key} {'ASC' if desc else 'DESC'}", page=None)

    def sort_mark(key: str) -> str:
        if current == f"{key} desc".lower():
            return " ▼"
        if current in (key.lower(), f"{key} asc".lower()):
            return " ▲"
        return ""

    return render("runs.html", d=d, agg=agg, aggregates=AGGREGATES, sort_url=sort_url,
                  sort_mark=sort_mark, page_url=lambda p: url("/runs", page=p),
                  api_url=url("/api/runs", agg=None, page=d["page"]))


def render_run(r: dict[str, Any]) -> str:
    charts = [(k, Markup(line_chart(k, [(k, h["steps"], h["values"])])))
              for k, h in sorted(r["history"].items()) if len(h["steps"]) > 1]
    return render("run.html", r=r, charts=charts)


def render_compare(d: dict[str, Any]) -> str:
    labels = {r["id"]: r["name"] or r["id"][:12] for r in d["runs"]}
    charts = []
    for key, per_run in sorted(d["history"].items()):
        series = [(labels[r["id"]], per_run[r["id"]]["steps"], per_run[r["id"]]["values"])
                  if r["id"] in per_run else (labels[r["id"]], [], [])
                  for r in d["runs"]]
        if any(len(s[1]) > 1 for s in series):
            charts.append((key, Markup(line_chart(key, series))))
    return render("compare.html", d=d, charts=charts, colours=PALETTE)
