"""The drift and endpoint reports as a reader sees them (issue 12 item 16): a long column
name never runs over a chart's legend, the drift-over-time window column and bars are
labelled by time (never "—" or "#0"), and label drift tells "stable" from "not computed".
Built from hand-made results, so each layout rule is pinned without serving anything."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from airlock.monitor import DriftMonitor, render_drift_report
from airlock.monitor._endpoint import EndpointReport, WindowReport
from airlock.monitor._endpoint_html import render_endpoint_report

LONG = "monthly_recurring_revenue_after_discounts_and_regional_taxes_in_euros_per_account"
START = datetime(2024, 5, 3, tzinfo=UTC)


def _drift(shift: float, seed: int, window: str | None = None) -> Any:
    rng = np.random.default_rng(seed)
    ref = pl.DataFrame({LONG: rng.normal(size=500), "k": rng.choice(["a", "b"], 500)})
    cur = pl.DataFrame({LONG: rng.normal(shift, size=500), "k": rng.choice(["a", "b"], 500)})
    result = DriftMonitor().fit(ref, name="reference.parquet").score(cur)
    from dataclasses import replace

    return replace(result, window=window)


def _serving() -> dict[str, Any]:
    return {"requests": 10, "rows": 10, "errors": 0, "error_rate": 0.0,
            "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0}, "throughput_rps": 0.5,
            "routes": {"primary": 10}}


def _report() -> EndpointReport:
    windows = []
    for i, (shift, label, missing) in enumerate([
            (0.0, None, {"label_drift": "this is the first labelled window: the reference "
                                        "of label drift"}),
            (2.0, {"method": "chisquare", "statistic": 0.4, "p_value": 0.5,
                   "threshold": 0.05, "drifted": False}, {}),
            (0.1, None, {"label_drift": "no labelled request in this window"})]):
        start = START + timedelta(hours=i)
        stamp = start.strftime("%Y-%m-%dT%H:%M:%S")
        windows.append(WindowReport(start, start + timedelta(hours=1), _serving(),
                                    performance={"labelled": 5, "accuracy": 0.8},
                                    label_drift=label, input_drift=_drift(shift, i, stamp),
                                    missing=missing))
    return EndpointReport("ep", timedelta(hours=1), None, None, tuple(windows),
                          reference="reference.parquet",
                          totals={"windows": 3, "requests": 30, "error_rate": 0.0,
                                  "latency_ms": {"p95": 2.0}})


def test_a_long_column_name_heads_its_chart_and_never_enters_the_svg() -> None:
    html = render_drift_report(_drift(1.0, 0))
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        assert LONG not in svg and LONG[:40] not in svg  # nothing to run over the legend
    head = re.search(r'<h3 style="max-width:420px;overflow-wrap:anywhere" title="(.*?)">',
                     html)
    assert head is not None and head.group(1) == LONG


def test_drift_over_time_is_labelled_by_window_start() -> None:
    html = render_endpoint_report(_report())
    over_time = html[html.index("Drift over time"):html.index('id="statistics"')]
    stamps = [f"2024-05-03T0{i}:00:00" for i in range(3)]
    for stamp in stamps:
        assert f"<td>{stamp}</td>" in over_time  # the table's window column
        assert f">{stamp}<" in over_time or stamp in re.sub(r"<[^>]+>", " ", over_time)
    svg = re.search(r"<svg\b.*?</svg>", over_time, flags=re.S)
    assert svg is not None and not re.search(r">#\d+<", svg.group(0))  # no "#0" bars
    assert stamps[0] in svg.group(0)
    rows = re.findall(r"<tr>(.*?)</tr>", over_time, flags=re.S)[1:]
    assert rows and all(not r.split("</td>")[0].endswith("—") for r in rows)


def test_label_drift_tells_stable_from_not_computed() -> None:
    html = render_endpoint_report(_report())
    perf = html[html.index('id="performance"'):]
    perf = perf[:perf.index("</table>")]
    cells = [r.split("<td")[-1] for r in re.findall(r"<tr>(.*?)</tr>", perf, flags=re.S)[1:]]
    assert "first labelled window" in cells[0] and "stable" not in cells[0]
    assert "stable" in cells[1] and "—" not in cells[1]
    assert "no labelled request in this window" in cells[2]
    json.dumps(_report().to_dict(), allow_nan=False)


def test_an_infinite_statistic_says_why_in_the_report() -> None:
    ref = pl.DataFrame({"k": ["a", "b", "c"] * 20})
    cur = pl.DataFrame({"k": ["a", "d", "e"] * 20})
    html = render_drift_report(DriftMonitor().fit(ref).score(cur))
    table = html[html.index('id="statistics"'):html.index('id="distributions"')]
    assert "∞<small>infinite: the reference has no rows in categories &#x27;d&#x27;, " \
           "&#x27;e&#x27;</small>" in table  # the JSON's statistic_reason, escaped
