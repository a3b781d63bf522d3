"""The endpoint report: one self-contained offline HTML page.

Sections: serving per window (requests, error rate, latency percentiles, throughput, routes),
performance per window when feedback labels exist, and the drift report of
:func:`render_drift_report` (the latest window against the reference, drift share over the
windows) when drift was measured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airlock.report import esc, facts, page, table

from ._report import render_drift_report

if TYPE_CHECKING:
    from ._endpoint import EndpointReport

__all__ = ["render_endpoint_report"]


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


def _performance_section(report: EndpointReport) -> list[str]:
    labelled = [w for w in report.windows if w.performance]
    if not labelled:
        return []
    names = [m for m in ("accuracy", "roc_auc", "f1", "log_loss", "mae", "rmse")
             if any(m in (w.performance or {}) for w in labelled)]
    rows = [[w.start.strftime("%Y-%m-%d %H:%M:%S"), (w.performance or {})["labelled"],
             *[_f((w.performance or {}).get(m)) for m in names],
             "DRIFT" if (w.label_drift or {}).get("drifted") else "—"] for w in labelled]
    return ['<h2 id="performance">Performance on labelled requests</h2>',
            table(["window", "labelled", *names, "label drift"], rows,
                  numeric=list(range(1, 2 + len(names))))]


def render_endpoint_report(report: EndpointReport) -> str:
    heading = f"Endpoint {report.endpoint}: monitoring report"
    t = report.totals
    body = [f"<h1>{esc(heading)}</h1>",
            facts([("windows", t.get("windows")), ("requests", t.get("requests")),
                   ("error rate", _f(t.get("error_rate"))),
                   ("p95 latency (ms)", _f((t.get("latency_ms") or {}).get("p95"), 2)),
                   ("window length", str(report.window)),
                   ("reference", report.reference or "first window (outputs only)"),
                   ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]),
            '<h2 id="serving">Serving per window</h2>',
            table(["window", "requests", "rows", "error rate", "p50 ms", "p95 ms", "p99 ms",
                   "req/s", "routes"], _serving_rows(report), numeric=[1, 2, 3, 4, 5, 6, 7])]
    body += _performance_section(report)
    drift = report.drift_result()
    if drift is not None:
        inner = render_drift_report(drift, title="Drift of the latest window")
        start, end = inner.find("<body>"), inner.rfind("</body>")
        body.append('<h2 id="drift">Drift</h2>')
        body.append(inner[start + len("<body>"):end].replace("<h1>", "<h2>")
                    .replace("</h1>", "</h2>"))
    return page(heading, body)
