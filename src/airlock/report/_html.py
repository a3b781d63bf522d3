"""The evaluation report: one self-contained HTML file (inline CSS and SVG, no script, no
URL), so it opens offline and can be attached to a pull request or an audit ticket.

``render_report(evaluation, decision)`` takes the stored JSON of an evaluation and,
optionally, of a gate decision. Every value that came from data (slice values, group names,
rule texts) is escaped; missing or undefined values show as "—".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from ._svg import Bar, Series, bar_chart, line_chart, reliability_diagram

__all__ = ["Html", "fmt", "page", "primary_metric", "render_report", "table"]

#: metrics where lower is better when the evaluation does not say (``higher_is_better``)
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "brier_score", "ece", "mae", "rmse", "mse",
                             "mape", "fpr", "max_error"})
PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
NON_METRIC_KEYS = frozenset({"support", "flagged"})
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


def higher_is_better(evaluation: Mapping[str, Any], metric: str) -> bool:
    declared = (evaluation.get("higher_is_better") or {}).get(metric)
    return bool(declared) if declared is not None else metric not in LOWER_IS_BETTER


def primary_metric(evaluation: Mapping[str, Any]) -> str | None:
    """The metric slice charts show: roc_auc (binary), accuracy (multiclass), rmse
    (regression), else the first overall metric."""
    overall = evaluation.get("overall") or {}
    wanted = PRIMARY.get(str(evaluation.get("task")))
    if wanted and wanted in overall:
        return wanted
    return next(iter(overall), None)


def metric_names(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Metric keys found in any of ``entries`` (slice cells or groups), first-seen order."""
    names: dict[str, None] = {}
    for entry in entries:
        for key, value in entry.items():
            if key not in NON_METRIC_KEYS and (isinstance(value, Mapping) or num(value)
                                               is not None or value is None):
                names.setdefault(key, None)
    return list(names)


# -- HTML building blocks -----------------------------------------------------------------
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


# -- report sections ----------------------------------------------------------------------
def _header(ev: Mapping[str, Any], decision: Mapping[str, Any] | None) -> list[str]:
    model, data, cfg = ev.get("model") or {}, ev.get("dataset") or {}, ev.get("config") or {}
    ref = model.get("ref") or f"{model.get('name', '?')}@{model.get('version', '?')}"
    out = [f"<h1>Evaluation report: {esc(ref)}</h1>",
           f'<p class="muted">evaluation {mono(ev.get("id"))}</p>']
    if decision is not None:
        policy = (decision.get("policy") or {}).get("name", "?")
        out.append(f"<p>Gate {esc(policy)}: {badge(bool(decision.get('passed')))}</p>")
    out.append(facts([
        ("model", mono(ref)), ("model sha256", mono(model.get("sha256"))),
        ("dataset", data.get("name") or "—"), ("dataset digest", mono(data.get("digest"))),
        ("rows", data.get("rows")), ("support", ev.get("support")),
        ("task", ev.get("task") or "—"), ("target", ev.get("target") or "—"),
        ("threshold", cfg.get("threshold")), ("seed", cfg.get("seed")),
        ("bootstrap resamples", cfg.get("bootstrap")), ("confidence", cfg.get("confidence")),
        ("min slice support", cfg.get("min_support")),
    ]))
    links = [("metrics", "Metrics"), ("curves", "Curves"), ("slices", "Slices"),
             ("fairness", "Fairness"), ("baseline", "Baseline"), ("decision", "Decision")]
    out.append("<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>")
    return out


def _metrics_section(ev: Mapping[str, Any]) -> list[str]:
    overall = ev.get("overall") or {}
    out = ['<h2 id="metrics">Metrics</h2>']
    if not overall:
        return [*out, '<p class="muted">No overall metrics were stored.</p>']
    conf = (ev.get("config") or {}).get("confidence")
    level = f"{conf:.0%} " if isinstance(conf, float) else ""
    rows = [(name, parts(m)[0], Html(esc(fmt_ci(m))),
             "higher" if higher_is_better(ev, name) else "lower")
            for name, m in overall.items()]
    out.append(table(["metric", "value", f"{level}CI (bootstrap)", "better"], rows,
                     numeric=[1]))
    return out


def _binary_curves(extras: Mapping[str, Any]) -> list[str]:
    charts = []
    roc = extras.get("roc")
    if isinstance(roc, Mapping):
        charts.append(line_chart([Series("ROC", roc.get("fpr", []), roc.get("tpr", []))],
                                 title="ROC curve", x_label="false positive rate",
                                 y_label="true positive rate", diagonal=True))
    pr = extras.get("pr")
    if isinstance(pr, Mapping):
        charts.append(line_chart(
            [Series("PR", pr.get("recall", []), pr.get("precision", []))],
            title="Precision-recall curve", x_label="recall", y_label="precision"))
    rel = extras.get("reliability")
    if isinstance(rel, Mapping):
        charts.append(reliability_diagram(rel))
    return [f'<div class="charts">{"".join(charts)}</div>'] if charts else []


def _confusion(cm: Mapping[str, Any]) -> list[str]:
    labels = list(cm.get("labels") or [])
    matrix = cm.get("matrix") or []
    rows = [[Html(f"<b>actual {esc(lab)}</b>"), *row]
            for lab, row in zip(labels, matrix, strict=False)]
    title = f"Confusion matrix at threshold {fmt(cm.get('threshold'))}" \
        if cm.get("threshold") is not None else "Confusion matrix"
    return [f"<h3>{esc(title)}</h3>",
            table(["", *(f"predicted {lab}" for lab in labels)], rows,
                  numeric=range(1, len(labels) + 1))]


def _histogram(hist: Mapping[str, Any]) -> str:
    edges, counts = list(hist.get("edges") or []), list(hist.get("counts") or [])
    bars = [Bar(f"{short(edges[i])} to {short(edges[i + 1])}", num(c))
            for i, c in enumerate(counts) if i + 1 < len(edges)]
    return bar_chart(bars, title="Residual histogram (actual - predicted)", y_label="rows")


def _generic_extra(name: str, value: Any) -> list[str]:
    if isinstance(value, Mapping) and all(num(v) is not None or v is None
                                          for v in value.values()):
        return [f"<h3>{esc(name)}</h3>", table(["key", "value"], list(value.items()),
                                               numeric=[1])]
    return [f"<h3>{esc(name)}</h3>", f'<details><summary>data</summary><pre class="mono">'
            f"{esc(compact(value, 4000))}</pre></details>"]


def _curves_section(ev: Mapping[str, Any]) -> list[str]:
    extras = ev.get("extras") or {}
    out = ['<h2 id="curves">Curves and diagnostics</h2>', *_binary_curves(extras)]
    hist = extras.get("residual_histogram")
    if isinstance(hist, Mapping):
        out.append(f'<div class="charts">{_histogram(hist)}</div>')
    if isinstance(extras.get("confusion_matrix"), Mapping):
        out += _confusion(extras["confusion_matrix"])
    done = {"roc", "pr", "reliability", "residual_histogram", "confusion_matrix"}
    for name, value in extras.items():
        if name not in done:
            out += _generic_extra(name.replace("_", " "), value)
    if len(out) == 1:
        out.append('<p class="muted">No curves or diagnostics were stored.</p>')
    return out


def _slice_column(ev: Mapping[str, Any], column: str,
                  cells: Mapping[str, Mapping[str, Any]]) -> list[str]:
    metric = primary_metric(ev)
    out = [f"<h3>{esc(column)}</h3>"]
    if metric is not None:
        bars = [ci_bar(str(value), cell.get(metric), flagged=bool(cell.get("flagged")),
                       note=f"support {fmt(cell.get('support'))}")
                for value, cell in cells.items()]
        overall = num(parts((ev.get("overall") or {}).get(metric))[0])
        refs = [(overall, f"overall {fmt(overall)}")] if overall is not None else []
        chart = bar_chart(bars, title=f"{metric} by {column}", y_label=metric, refs=refs)
        out.append(f'<div class="charts">{chart}</div>')
    names = metric_names(cells.values())
    rows = [[str(value), cell.get("support"),
             Html('<span class="badge flag">under min support</span>')
             if cell.get("flagged") else "",
             *(cell_ci(cell.get(n)) for n in names)] for value, cell in cells.items()]
    classes = ["warn" if cell.get("flagged") else "" for cell in cells.values()]
    out.append(table([column, "support", "status", *names], rows, row_classes=classes,
                     numeric=[1]))
    return out


def _slices_section(ev: Mapping[str, Any]) -> list[str]:
    slices = ev.get("slices") or {}
    out = ['<h2 id="slices">Slices</h2>']
    if not slices:
        return [*out, '<p class="muted">No slice columns were evaluated.</p>']
    min_support = (ev.get("config") or {}).get("min_support")
    if min_support is not None:
        out.append(f'<p class="muted">Slices with fewer than {esc(fmt(min_support))} rows are '
                   "flagged (grey bars) and reported, not gated. Whiskers: bootstrap CI; "
                   "dashed line: overall value.</p>")
    for column, cells in slices.items():
        out += _slice_column(ev, str(column), cells)
    return out


def _disparity_rows(disparities: Mapping[str, Any]) -> tuple[list[list[Any]], list[str]]:
    rows: list[list[Any]] = []
    classes: list[str] = []
    for name, d in disparities.items():
        if isinstance(d, Mapping) and "passed" in d:
            rows.append([name, d.get("ratio", d.get("value")), "",
                         badge(bool(d.get("passed")))])
            classes.append("" if d.get("passed") else "bad")
        else:
            rows.append([name, parts(d)[0], Html(esc(fmt_ci(d))), ""])
            classes.append("")
    return rows, classes


def _fairness_feature(feature: str, result: Mapping[str, Any]) -> list[str]:
    groups = result.get("by_group") or {}
    names = metric_names(groups.values())
    out = [f"<h3>{esc(feature)}</h3>",
           table(["group", *names, "support"],
                 [[str(g), *(cell_ci(m.get(n)) for n in names), m.get("support")]
                  for g, m in groups.items()], numeric=[len(names) + 1])]
    disparities = result.get("disparities") or {}
    if disparities:
        rows, classes = _disparity_rows(disparities)
        out.append(table(["disparity", "value", "CI", "rule"], rows, row_classes=classes,
                         numeric=[1]))
        bars = [ci_bar(name, d) for name, d in disparities.items()
                if not (isinstance(d, Mapping) and "passed" in d)]
        refs = [(0.8, "ratio 0.8 (four-fifths)")] if any("ratio" in b.label for b in bars) \
            else []
        if bars:
            chart = bar_chart(bars, title=f"Disparities by {feature}", refs=refs)
            out.append(f'<div class="charts">{chart}</div>')
    return out


def _fairness_section(ev: Mapping[str, Any]) -> list[str]:
    fairness = ev.get("fairness") or {}
    out = ['<h2 id="fairness">Fairness</h2>']
    if not fairness:
        return [*out, '<p class="muted">No sensitive columns were evaluated.</p>']
    for feature, result in fairness.items():
        out += _fairness_feature(str(feature), result)
    return out


def significant_regression(ev: Mapping[str, Any], metric: str, d: Mapping[str, Any]) -> bool:
    """The candidate is worse than the baseline and the paired CI excludes zero (or the
    p-value is under 1 - confidence)."""
    delta, lo, hi = num(d.get("delta")), num(d.get("ci_low")), num(d.get("ci_high"))
    if delta is None:
        return False
    up = higher_is_better(ev, metric)
    if (delta >= 0) if up else (delta <= 0):
        return False
    alpha = 1 - float((ev.get("config") or {}).get("confidence") or 0.95)
    p = num(d.get("p_value"))
    excludes = (hi is not None and hi < 0) if up else (lo is not None and lo > 0)
    return excludes or (p is not None and p < alpha)


def _baseline_section(ev: Mapping[str, Any]) -> list[str]:
    base = ev.get("baseline")
    out = ['<h2 id="baseline">Baseline comparison</h2>']
    if not base:
        return [*out, '<p class="muted">No baseline was compared.</p>']
    model = base.get("model") or {}
    out.append(facts([("baseline", mono(model.get("ref"))),
                      ("baseline sha256", mono(model.get("sha256")))]))
    deltas = base.get("deltas") or {}
    flags = [significant_regression(ev, m, d) for m, d in deltas.items()]
    rows = [[m, d.get("candidate"), d.get("baseline"), d.get("delta"),
             Html(esc(fmt_ci(d))), fmt_p(d.get("p_value")),
             badge(False, no="significant regression") if bad else ""]
            for (m, d), bad in zip(deltas.items(), flags, strict=True)]
    out.append(table(["metric", "candidate", "baseline", "delta (cand - base)", "paired CI",
                      "p-value", ""], rows, row_classes=["bad" if f else "" for f in flags],
                     numeric=[1, 2, 3]))
    regressed = base.get("regressed_slices") or []
    out.append(f"<h3>Regressed slices ({len(regressed)})</h3>")
    if regressed:
        out.append(table(["column", "value", "metric", "delta", "paired CI", "p-value"],
                         [[r.get("column"), str(r.get("value")), r.get("metric"),
                           r.get("delta"), Html(esc(fmt_ci(r))), fmt_p(r.get("p_value"))]
                          for r in regressed], row_classes=["bad"] * len(regressed),
                         numeric=[3]))
    else:
        out.append('<p class="muted">No slice regressed significantly.</p>')
    return out


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


def _decision_section(decision: Mapping[str, Any] | None) -> list[str]:
    out = ['<h2 id="decision">Gate decision</h2>']
    if decision is None:
        return [*out, '<p class="muted">No policy was applied to this evaluation.</p>']
    policy = decision.get("policy") or {}
    rules = list(decision.get("rules") or [])
    failed = sum(1 for r in rules if r.get("passed") is False)
    out.append(facts([("decision", mono(decision.get("id"))),
                      ("policy", policy.get("name") or "—"),
                      ("policy sha256", mono(policy.get("sha256"))),
                      ("outcome", badge(bool(decision.get("passed")))),
                      ("rules", f"{len(rules)} ({failed} failed)")]))
    out.append(table(["#", "rule", "kind", "on", "value", "bound", "severity", "result",
                      "evidence"], decision_rows(rules),
                     row_classes=["bad" if r.get("passed") is False else "" for r in rules],
                     numeric=[4, 5]))
    return out


def render_report(evaluation: dict[str, Any], decision: dict[str, Any] | None = None) -> str:
    """The whole evaluation (and the gate decision, when given) as one offline HTML page."""
    model = evaluation.get("model") or {}
    title = f"airlock evaluation: {model.get('ref') or evaluation.get('id') or 'model'}"
    body = [*_header(evaluation, decision), *_metrics_section(evaluation),
            *_curves_section(evaluation), *_slices_section(evaluation),
            *_fairness_section(evaluation), *_baseline_section(evaluation),
            *_decision_section(decision),
            '<p class="muted" style="margin-top:40px">Generated by airlock from the stored '
            "evaluation; self-contained, no external resources.</p>"]
    return page(title, body)
