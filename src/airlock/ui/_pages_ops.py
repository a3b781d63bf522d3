"""Pages of the rest of the loop: evaluations and decisions, the promotion view, contracts,
endpoints (serving, performance, drift, alerts) and reports. Charts come from ``report``
(bar charts) and ``_svg`` (figures over time windows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from airlock.evaluation import report_sections
from airlock.monitor import EndpointReport, endpoint_sections
from airlock.report import Bar, bar_chart, decision_rows, table

from ._pages import Viewer, chart, render
from ._svg import time_chart

__all__ = ["render_contract", "render_decision", "render_endpoint", "render_evaluation",
           "render_promotion"]

PERF_METRICS = ("accuracy", "roc_auc", "f1", "precision", "recall")
LOSS_METRICS = ("log_loss", "brier", "mae", "rmse")


def render_evaluation(d: dict[str, Any], viewer: Viewer) -> str:
    sections = report_sections(d["evaluation"], [dec["result"] for dec in d["decisions"]])
    return render("evaluation.html", viewer, "/evaluations", d=d,
                  sections=Markup("".join(sections)))


def render_decision(d: dict[str, Any], viewer: Viewer) -> str:
    rules = d["decision"]["rules"]
    rows = table(["#", "rule", "kind", "on", "value", "bound", "severity", "result",
                  "evidence"], decision_rows(rules),
                 row_classes=["bad" if r.get("passed") is False else "" for r in rules],
                 numeric=[4, 5])
    return render("decision.html", viewer, "/evaluations", d=d, rules_table=Markup(rows))


def render_promotion(d: dict[str, Any], viewer: Viewer) -> str:
    bars = []
    for m in d["metrics"]:
        for side, label in (("candidate", f"v{d['candidate']}"), ("current", f"v{d['current']}")):
            v = m[side]
            if v["value"] is not None:
                bars.append(Bar(f"{m['metric']} {label}", v["value"], v["ci_low"], v["ci_high"],
                                flagged=side == "current", note=f"{side} version"))
    svg = bar_chart(bars, title="Candidate (blue) and current (grey), with CIs") if bars else ""
    return render("promotion.html", viewer, "/models", d=d, chart=chart(svg))


def render_contract(d: dict[str, Any], viewer: Viewer) -> str:
    shown = list(reversed(d["validations"][:40]))
    bars = [Bar(_short_time(v["time"]), float(len(v["failing"])), flagged=v["passed"],
                note=f"{len(v['failing'])} failing checks of {v['checks']}"
                + (" (passed: only warnings)" if v["passed"] and v["failing"] else ""))
            for v in shown]
    svg = bar_chart(bars, title="failing checks", y_label="checks") if bars else ""
    return render("contract.html", viewer, "/contracts", d=d, chart=chart(svg),
                  matrix=d["validations"][:12])


def _short_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%m-%d %H:%M")


# -- endpoints --------------------------------------------------------------------------
def _times(windows: list[dict[str, Any]]) -> list[float]:
    return [datetime.fromisoformat(w["start"]).timestamp() for w in windows]


def _endpoint_charts(d: dict[str, Any]) -> list[tuple[str, str, Markup]]:
    """(caption, legend, svg) of each figure over the windows."""
    windows = d["report"]["windows"]
    if not windows:
        return []
    ts = _times(windows)
    out = [("Requests per window", "requests, errors",
            time_chart("requests", ts, [("requests", [w["requests"] for w in windows]),
                                        ("errors", [w["errors"] for w in windows])])),
           ("Error rate per window", "error rate",
            time_chart("error rate", ts, [("error rate", [w["error_rate"] for w in windows])],
                       y_label="share")),
           ("Latency (ms)", "p50, p95, p99",
            time_chart("latency", ts, [(p, [w["latency_ms"][p] for w in windows])
                                       for p in ("p50", "p95", "p99")], y_label="ms"))]
    codes = [c for c in d["statuses"]["codes"] if not c.startswith("2")]
    if len(codes) > 1:  # one error status: the error-rate chart already shows it
        out.append(("Share of requests by error status", ", ".join(codes),
                    time_chart("statuses", ts, [(c, [s["share"][c] for s in
                                                     d["statuses"]["windows"]])
                                                for c in codes], y_label="share")))
    routes = sorted({r for w in windows for r in w["routes"]})
    if len(routes) > 1:
        out.append(("Route split (requests)", ", ".join(routes),
                    time_chart("routes", ts, [(r, [w["routes"].get(r, 0) for w in windows])
                                              for r in routes])))
    for caption, names in (("Performance on feedback labels", PERF_METRICS),
                           ("Errors on feedback labels (lower is better)", LOSS_METRICS)):
        perf = [m for m in names if any(m in (w["performance"] or {}) for w in windows)]
        if perf:
            out.append((caption, ", ".join(perf), time_chart(
                caption, ts, [(m, [(w["performance"] or {}).get(m) for w in windows])
                              for m in perf])))
    drift = [(label, [c.get("drift_share") for c in t["windows"]])
             for label, t in d["drift"].items() if t["columns"]]
    if drift:
        out.append(("Drift share (share of drifted columns)", ", ".join(x for x, _ in drift),
                    time_chart("drift share", ts, drift, y_label="share",
                               refs=[(0.5, "dataset drift threshold")])))
    return [(c, legend, chart(svg)) for c, legend, svg in out]


def render_endpoint(d: dict[str, Any], report: EndpointReport, viewer: Viewer,
                    refresh: int, now: str) -> str:
    details = Markup("".join(endpoint_sections(report))) if report.windows else Markup("")
    return render("endpoint.html", viewer, "/endpoints", d=d, charts=_endpoint_charts(d),
                  details=details, refresh=refresh, now=now)
