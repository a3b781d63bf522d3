"""HTML building blocks shared by every page airlock renders: escaping, number formatting,
tables, fact lists, badges, the page shell and its CSS. Every value that came from data is
escaped unless it is :class:`Html` already; missing or undefined values show as "—"."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from ._svg import Bar

__all__ = ["CSS", "Html", "badge", "cell_ci", "ci_bar", "compact", "decision_rows", "esc",
           "evidence_html", "facts", "fmt", "fmt_ci", "fmt_p", "mono", "num", "page", "parts",
           "short", "table"]

NUM_CLASS = ' class="num"'

CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--ok:#15803d;--bad:#b91c1c;--warn:#a16207}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
 margin:0 auto;max-width:1180px;padding:24px 28px 64px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;
 border-bottom:2px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
p{margin:6px 0}.muted,small{color:var(--muted)}code,.mono{font-family:ui-monospace,Menlo,
 Consolas,monospace;font-size:12px;word-break:break-all}
nav{margin:8px 0 0;font-size:13px}nav a{margin-right:12px;color:#1d4ed8;text-decoration:none}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.scroll{overflow-x:auto;margin:8px 0}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f9fafb;font-weight:600;white-space:nowrap}td.num{text-align:right}
td small{display:block;white-space:nowrap}
tr.bad td{background:#fef2f2}tr.warn td{background:#fffbeb}
.badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600}
.pass{background:#dcfce7;color:var(--ok)}.fail{background:#fee2e2;color:var(--bad)}
.flag{background:#fef3c7;color:var(--warn)}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
svg.chart{max-width:100%;height:auto;background:#fff}
details summary{cursor:pointer;color:#1d4ed8}
ul{margin:6px 0;padding-left:22px}
ul.evidence{margin:0;padding:0;list-style:none;font-size:12px}
"""


class Html(str):
    """Markup that is already safe: table cells and blocks of this type are not escaped."""

    __slots__ = ()


def esc(value: object) -> Html:
    return Html(escape(str(value), quote=True))


# -- formatting ---------------------------------------------------------------------------
def fmt(x: Any) -> str:
    """A number for a table: 4 decimals, thousands separators, "—" when undefined."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "—" if math.isnan(x) else ("∞" if x > 0 else "-∞")
        if abs(x) >= 1e5:
            return f"{x:,.0f}"
        if abs(x) >= 100:
            return f"{x:,.2f}"
        if x != 0 and abs(x) < 1e-3:
            return f"{x:.2e}"
        return f"{x:.4f}"
    return str(x)


def short(x: Any) -> str:
    """A compact number for an axis label: 3 significant digits, k / M suffixes."""
    v = num(x)
    if v is None:
        return "—"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.3g}{suffix}"
    return f"{v:.3g}"


def fmt_p(p: Any) -> str:
    if not isinstance(p, int | float) or isinstance(p, bool) or not math.isfinite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def parts(m: Any) -> tuple[Any, Any, Any]:
    """(value, ci_low, ci_high) of a stored metric: a CI dict or a bare number."""
    if isinstance(m, Mapping):
        return m.get("value"), m.get("ci_low"), m.get("ci_high")
    return m, None, None


def fmt_ci(m: Any) -> str:
    _, lo, hi = parts(m)
    return "—" if lo is None and hi is None else f"[{fmt(lo)}, {fmt(hi)}]"


def cell_ci(m: Any) -> Html:
    """A table cell: the value with its CI in small type underneath."""
    value, lo, hi = parts(m)
    ci = "" if lo is None and hi is None else f"<small>{esc(fmt_ci(m))}</small>"
    return Html(f"{esc(fmt(value))}{ci}")


def num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def ci_bar(label: str, m: Any, *, flagged: bool = False, note: str = "") -> Bar:
    value, lo, hi = parts(m)
    return Bar(label, num(value), num(lo), num(hi), flagged=flagged, note=note)


def badge(passed: bool | None, yes: str = "passed", no: str = "FAILED") -> Html:
    if passed is None:
        return Html('<span class="badge flag">n/a</span>')
    return Html(f'<span class="badge {"pass" if passed else "fail"}">{yes if passed else no}'
                "</span>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          row_classes: Sequence[str] | None = None, numeric: Sequence[int] = ()) -> Html:
    """A table; plain cells are escaped, :class:`Html` cells go in as they are."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes and i < len(row_classes) else ""
        cells = "".join(
            f"<td{NUM_CLASS if j in numeric else ''}>"
            f"{c if isinstance(c, Html) else esc(fmt(c))}</td>" for j, c in enumerate(row))
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return Html(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table></div>')


def facts(pairs: Iterable[tuple[str, Any]]) -> Html:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v if isinstance(v, Html) else esc(fmt(v))}</dd>"
                    for k, v in pairs)
    return Html(f'<dl class="facts">{items}</dl>')


def mono(text: Any) -> Html:
    return Html(f'<span class="mono">{esc("—" if text is None else text)}</span>')


def page(title: str, body: Iterable[str]) -> str:
    """A whole document; it is also well-formed XML after the doctype (tests parse it)."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def compact(value: Any, limit: int = 300) -> str:
    """A short one-line rendering of evidence values."""
    if isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
    else:
        text = fmt(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evidence_html(evidence: Any) -> Html:
    if not isinstance(evidence, Mapping) or not evidence:
        return Html("" if not evidence else esc(compact(evidence)))
    items = "".join(f"<li><b>{esc(k)}</b>: {esc(compact(v))}</li>" for k, v in evidence.items())
    if sum(len(str(k)) + len(compact(v)) for k, v in evidence.items()) <= 120:
        return Html(f'<ul class="evidence">{items}</ul>')
    return Html(f"<details><summary>{len(evidence)} item(s)</summary><ul>{items}</ul>"
                "</details>")


def decision_rows(rules: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    return [[r.get("index", i), r.get("text") or "", r.get("kind") or "",
             " / ".join(str(x) for x in (r.get("metric"), r.get("feature")) if x),
             r.get("value"), r.get("bound"), r.get("severity") or "",
             badge(r.get("passed") if isinstance(r.get("passed"), bool) else None),
             evidence_html(r.get("evidence"))] for i, r in enumerate(rules)]
