"""The evaluation page: one self-contained HTML file (inline CSS and SVG, no script, no URL)
rendered from an evaluation's stored result, so it opens offline and can be attached to a
pull request or an audit ticket. Results never import this module; it reads them.

``render_report(evaluation, decision)`` takes the stored JSON of an evaluation (or an
:class:`Evaluation`) and, optionally, of a gate decision. Every value that came from data
(slice values, group names, rule texts) is escaped; missing or undefined values show as "—".
Each metric is explained with the catalogue's description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airlock.report import (
    Bar,
    Html,
    Series,
    badge,
    bar_chart,
    cell_ci,
    ci_bar,
    compact,
    decision_rows,
    esc,
    facts,
    fmt,
    fmt_ci,
    fmt_p,
    line_chart,
    mono,
    num,
    page,
    parts,
    reliability_diagram,
    short,
    table,
)

from ._catalogue import CATALOGUE
from ._gating import SliceGate, slice_gates, slice_support
from ._meaning import higher_is_better, metric_names, primary_metric, significant_regression

__all__ = ["render_report", "report_sections"]


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
             ("fairness", "Fairness"), ("importance", "Importance"), ("baseline", "Baseline"),
             ("decision", "Decision")]
    out.append("<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>")
    return out


def _metrics_section(ev: Mapping[str, Any]) -> list[str]:
    overall = ev.get("overall") or {}
    out = ['<h2 id="metrics">Metrics</h2>']
    if not overall:
        return [*out, '<p class="muted">No overall metrics were stored.</p>']
    conf = (ev.get("config") or {}).get("confidence")
    level = f"{conf:.0%} " if isinstance(conf, float) else ""
    task = ev.get("task") if ev.get("task") in CATALOGUE.tasks else None
    rows = [(name, parts(m)[0], Html(esc(fmt_ci(m))),
             "higher" if higher_is_better(ev, name) else "lower",
             CATALOGUE.describe(name, task) or "")
            for name, m in overall.items()]
    out.append(table(["metric", "value", f"{level}CI (bootstrap)", "better", "meaning"], rows,
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
    labels = list(cm.get("classes") or cm.get("labels") or [])  # multiclass: classes
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


def _status(cell: Mapping[str, Any], column: str, value: str,
            gates: list[SliceGate]) -> Any:
    state, rules = slice_support(cell, column, value, gates)
    if state == "reported":
        return Html('<span class="badge flag">under min support</span>')
    if state == "gated":
        return Html('<span class="badge flag">under min support</span> ' + esc(
            "gated by " + ", ".join(f"rule {g.rule} (min support {g.min_support})"
                                    for g in rules)))
    if state == "skipped":
        return "not gated: " + ", ".join(f"rule {g.rule} needs {g.min_support}" for g in rules)
    return ""


def _slice_column(ev: Mapping[str, Any], column: str,
                  cells: Mapping[str, Mapping[str, Any]], gates: list[SliceGate]) -> list[str]:
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
    rows = [[str(value), cell.get("support"), _status(cell, column, str(value), gates),
             *(cell_ci(cell.get(n)) for n in names)] for value, cell in cells.items()]
    classes = ["warn" if cell.get("flagged") else "" for cell in cells.values()]
    out.append(table([column, "support", "status", *names], rows, row_classes=classes,
                     numeric=[1]))
    return out


def _slices_section(ev: Mapping[str, Any], decision: Mapping[str, Any] | None) -> list[str]:
    slices = ev.get("slices") or {}
    out = ['<h2 id="slices">Slices</h2>']
    if not slices:
        return [*out, '<p class="muted">No slice columns were evaluated.</p>']
    gates = slice_gates(decision)
    min_support = (ev.get("config") or {}).get("min_support")
    if min_support is not None:
        gated = ("; a gate rule with a lower min_support gates them (status)" if gates
                 else "")
        out.append(f'<p class="muted">Slices with fewer than {esc(fmt(min_support))} rows are '
                   f"flagged (grey bars) and reported, not gated{esc(gated)}. Whiskers: "
                   "bootstrap CI; dashed line: overall value.</p>")
    for column, cells in slices.items():
        out += _slice_column(ev, str(column), cells, gates)
    return out


def _disparity_rows(disparities: Mapping[str, Any]) -> tuple[list[list[Any]], list[str]]:
    rows: list[list[Any]] = []
    classes: list[str] = []
    for name, d in disparities.items():
        if isinstance(d, Mapping) and "passed" in d:  # a rule: the figure, bound and verdict
            bound = d.get("bound")
            rule = Html(badge(bool(d.get("passed"))) +
                        (esc(f" (needs ≥ {short(bound)})") if bound is not None else ""))
            rows.append([name, d.get("value", d.get("ratio")), Html(esc(fmt_ci(d))), rule])
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


def _shap_note(shap: Mapping[str, Any]) -> str:
    if not shap:
        return ""
    if shap.get("reason"):
        return f"Mean |SHAP|: not computed ({shap['reason']})."
    verdict = "additive" if shap.get("additive") else "NOT additive"
    return (f"Mean |SHAP| over {fmt(shap.get('rows'))} rows (shap's TreeExplainer, output "
            f"{shap.get('model_output') or '?'}); additivity check: {verdict}, largest gap "
            f"{short(shap.get('additivity_error'))}.")


def _importance_slices(imp: Mapping[str, Any], features: list[str]) -> list[str]:
    out = []
    for column, cells in (imp.get("slices") or {}).items():
        out += [f"<h3>Importance by {esc(column)}</h3>",
                table([str(column), *features],
                      [[str(value), *(by.get(f) for f in features)]
                       for value, by in cells.items()], numeric=range(1, len(features) + 1))]
    return out


def _importance_section(ev: Mapping[str, Any]) -> list[str]:
    """Permutation importance per feature with its CI (a table and a bar chart, most
    important first), mean |SHAP| beside it when computed, and the drop per slice."""
    imp = ev.get("importance") or {}
    out = ['<h2 id="importance">Feature importance</h2>']
    features = imp.get("features") or {}
    if not features:
        return [*out, '<p class="muted">Importance was not computed (run the evaluation '
                "with --importance).</p>"]
    metric = str(imp.get("metric") or "the metric")
    conf = (ev.get("config") or {}).get("confidence")
    level = f"{conf:.0%} " if isinstance(conf, float) else ""
    change = "rise" if imp.get("higher_is_better") is False else "drop"
    out.append(f'<p class="muted">Permutation importance: the {change} of {esc(metric)} '
               f"(baseline {esc(fmt(imp.get('baseline')))}) when one column is shuffled, "
               f"mean of {esc(fmt(imp.get('repeats')))} shuffles (seed "
               f"{esc(fmt(imp.get('seed')))}); whiskers: {esc(level)}bootstrap CI over the "
               "shuffles. It measures what the model relies on in this data, not causes; "
               "correlated columns share their importance.</p>")
    shap = imp.get("shap") or {}
    mean_abs = shap.get("mean_abs") or {}
    names = list(features)
    rows = [[f.get("rank"), name, f.get("value"), Html(esc(fmt_ci(f))), f.get("std"),
             *([mean_abs.get(name)] if mean_abs else [])] for name, f in features.items()]
    out.append(table(["rank", "feature", f"{change} of {metric}", f"{level}CI", "std",
                      *(["mean |SHAP|"] if mean_abs else [])], rows, numeric=[0, 2, 4, 5]))
    chart = bar_chart([ci_bar(name, f) for name, f in features.items()],
                      title=f"Permutation importance ({change} of {metric})", y_label=change)
    out.append(f'<div class="charts">{chart}</div>')
    if note := _shap_note(shap):
        out.append(f'<p class="muted">{esc(note)}</p>')
    return [*out, *_importance_slices(imp, names)]


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


def _as_mappings(evaluation: Any, decisions: Any) -> tuple[Mapping[str, Any],
                                                           list[Mapping[str, Any]]]:
    if isinstance(decisions, Mapping) or (decisions is not None and
                                          not isinstance(decisions, list | tuple)):
        decisions = [decisions]
    found = list(decisions or [])
    if hasattr(evaluation, "result") and not isinstance(evaluation, Mapping):
        if not found and getattr(evaluation, "decision", None) is not None:
            found = [evaluation.decision]
        evaluation = evaluation.result
    return evaluation, [d if isinstance(d, Mapping) else d.to_dict() for d in found]


def report_sections(evaluation: Any, decisions: Any = ()) -> list[str]:
    """The evaluation page's sections as HTML fragments (header with its facts and section
    links, metrics, curves, slices, fairness, importance, baseline, then one "Gate
    decision" section per decision, or a note that none was applied), for a page that wraps
    them in its own shell (the web UI does). ``decisions``: stored decision JSON or
    :class:`Decision` objects, or one of them."""
    ev, found = _as_mappings(evaluation, decisions)
    out = [*_header(ev, found[0] if len(found) == 1 else None)]
    if len(found) > 1:
        out.append("<p>" + " ".join(
            f"Gate {esc((d.get('policy') or {}).get('name', '?'))}: "
            f"{badge(bool(d.get('passed')))}" for d in found) + "</p>")
    out += [*_metrics_section(ev), *_curves_section(ev),
            *_slices_section(ev, found[0] if found else None),
            *_fairness_section(ev), *_importance_section(ev), *_baseline_section(ev)]
    if not found:
        return [*out, *_decision_section(None)]
    for i, d in enumerate(found):
        section = _decision_section(d)
        if i:  # one anchor "decision" for the page's link; the others by their id
            section[0] = f'<h2 id="decision-{esc(d.get("id") or i)}">Gate decision</h2>'
        out += section
    return out


def render_report(evaluation: Any, decision: Any = None) -> str:
    """The whole evaluation (and the gate decision, when given) as one offline HTML page;
    ``evaluation`` is its stored JSON or an :class:`Evaluation` (whose decision is used when
    none is given)."""
    ev, found = _as_mappings(evaluation, decision)
    model = ev.get("model") or {}
    title = f"airlock evaluation: {model.get('ref') or ev.get('id') or 'model'}"
    body = [*report_sections(ev, found),
            '<p class="muted" style="margin-top:40px">Generated by airlock from the stored '
            "evaluation; self-contained, no external resources.</p>"]
    return page(title, body)
