"""The endpoint report: one self-contained offline HTML page.

Sections: serving per window (requests, error rate, latency percentiles, throughput, routes),
performance per window when feedback labels exist, and the drift report of
:func:`render_drift_report` (the latest window against the reference, drift share over the
windows) when drift was measured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airlock._files import write_atomic
from airlock.report import badge, esc, facts, page, table

from ._endpoint import EndpointReport
from ._report import render_drift_report

__all__ = ["endpoint_sections", "render_endpoint_report", "save_endpoint_report"]


def _f(x: Any, digits: int = 4) -> Any:
    return round(x, digits) if isinstance(x, float) else ("—" if x is None else x)


def _serving_rows(report: EndpointReport) -> list[list[Any]]:
    rows = []
    for w in report.windows:
        s, lat = w.serving, w.serving["latency_ms"]
        rows.append([w.start.strftime("%Y-%m-%d %H:%M:%S"), s["requests"], s["rows"],
                     _f(s["error_rate"]), _f(lat["p50"], 2), _f(lat["p95"], 2),
                     _f(lat["p99"], 2), _f(s["throughput_rps"]),
                     ", ".join(f"{k} {v}" for k, v in s["routes"].items())])
    return rows


def _label_cell(w: Any) -> Any:
    """DRIFT or stable when label drift was computed; else why it was not."""
    if w.label_drift is not None:
        return badge(not w.label_drift.get("drifted"), "stable", "DRIFT")
    return f"— ({w.missing.get('label_drift', 'not computed')})"


def _shadow_section(report: EndpointReport) -> list[str]:
    shadow = report.totals.get("shadow")
    if not shadow:
        return []
    rows = []
    for w in report.windows:
        s = w.serving.get("shadow")
        if s:
            lat = s["latency_ms"]
            rows.append([w.start.strftime("%Y-%m-%d %H:%M:%S"), s["requests"],
                         _f(s["error_rate"]), _f(lat["p50"], 2), _f(lat["p95"], 2),
                         _f(s["agreement"]), s["compared"]])
    return ['<h2 id="shadow">Shadow model (not client traffic)</h2>',
            '<p class="muted">The shadow answers a copy of each request; its answers never '
            "reach a client and are not counted above. Agreement: the share of rows where "
            "its prediction equals the one the client got.</p>",
            table(["window", "requests", "error rate", "p50 ms", "p95 ms", "agreement",
                   "rows compared"], rows, numeric=[1, 2, 3, 4, 5, 6])]


def _missing_section(report: EndpointReport) -> list[str]:
    rows = [[w.start.strftime("%Y-%m-%d %H:%M:%S"), what.replace("_", " "), why]
            for w in report.windows for what, why in w.missing.items()
            if what != "label_drift"]
    if not rows:
        return []
    return ['<h2 id="missing">Drift not computed</h2>',
            table(["window", "figure", "why"], rows)]


def _prediction_section(report: EndpointReport) -> list[str]:
    rows = [[w.start.strftime("%Y-%m-%d %H:%M:%S"), w.prediction_drift.current_rows,
             w.prediction_drift.drift_share,
             badge(not w.prediction_drift.drifted, "stable", "DRIFT"),
             ", ".join(w.prediction_drift.drifted_columns) or "—"]
            for w in report.windows if w.prediction_drift is not None]
    if not rows:
        return []
    return ['<h2 id="prediction-drift">Prediction drift per window</h2>',
            f'<p class="muted">Compared with: {esc(report.prediction_reference or "—")}</p>',
            table(["window", "rows", "drift share", "verdict", "drifted outputs"], rows,
                  numeric=[1, 2])]


def _performance_section(report: EndpointReport) -> list[str]:
    labelled = [w for w in report.windows if w.performance]
    if not labelled:
        return []
    names = [m for m in ("accuracy", "roc_auc", "f1", "log_loss", "mae", "rmse")
             if any(m in (w.performance or {}) for w in labelled)]
    rows = [[w.start.strftime("%Y-%m-%d %H:%M:%S"), (w.performance or {})["labelled"],
             *[_f((w.performance or {}).get(m)) for m in names], _label_cell(w)]
            for w in labelled]
    return ['<h2 id="performance">Performance on labelled requests</h2>',
            table(["window", "labelled", *names, "label drift"], rows,
                  numeric=list(range(1, 2 + len(names))))]


def endpoint_sections(report: EndpointReport) -> list[str]:
    """The report's sections below its summary, as HTML fragments (serving per window, the
    shadow, performance, prediction drift, what was not computed, the latest window's drift
    report), for a page that wraps them in its own shell (the web UI does)."""
    body = ['<h2 id="serving">Serving per window</h2>',
            table(["window", "requests", "rows", "error rate", "p50 ms", "p95 ms", "p99 ms",
                   "req/s", "routes"], _serving_rows(report), numeric=[1, 2, 3, 4, 5, 6, 7])]
    body += _shadow_section(report)
    body += _performance_section(report)
    body += _prediction_section(report)
    body += _missing_section(report)
    drift = report.drift_result()
    if drift is not None:
        inner = render_drift_report(drift, title="Drift of the latest window")
        start, end = inner.find("<body>"), inner.rfind("</body>")
        body.append(inner[start + len("<body>"):end].replace("<h1>", "<h2>")
                    .replace("</h1>", "</h2>"))
    return body


def render_endpoint_report(report: EndpointReport) -> str:
    heading = f"Endpoint {report.endpoint}: monitoring report"
    t = report.totals
    body = [f"<h1>{esc(heading)}</h1>",
            facts([("windows", t.get("windows")), ("requests", t.get("requests")),
                   ("error rate", _f(t.get("error_rate"))),
                   ("p95 latency (ms)", _f((t.get("latency_ms") or {}).get("p95"), 2)),
                   ("window length", str(report.window)),
                   ("input drift compared with", report.reference or "— (no reference given)"),
                   ("prediction drift compared with", report.prediction_reference
                    or f"— ({report.prediction_reference_missing or 'not computed'})"),
                   ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]),
            *endpoint_sections(report)]
    return page(heading, body)


def save_endpoint_report(report: EndpointReport, path: str | Path) -> Path:
    """Write :func:`render_endpoint_report` of ``report`` to ``path`` atomically."""
    return write_atomic(path, render_endpoint_report(report))
