"""`airlock monitor …`: reference profiles and data drift.

``monitor drift`` exits 0 when the dataset did not drift, 1 when it did (at least
``--drift-share`` of the columns drifted), 2 on a usage or input error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fmt_value, print_json, table
from ._table import name_col

app = typer.Typer(help="Monitoring: reference profiles and data drift.", no_args_is_help=True)

COLUMNS_HELP = "Only these columns (repeat the option or separate with commas)."


def _names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out or None


@app.command("profile")
def profile(
    reference: str = typer.Argument(..., help="Reference data: Parquet, CSV, Arrow or JSON "
                                    "lines (a file, a folder of Parquet files or a glob)."),
    output: Path = typer.Option(..., "--output", "-o", help="Write the profile here."),
    columns: list[str] | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
    categorical: list[str] | None = typer.Option(
        None, "--categorical", help="Treat these numeric columns as categories."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a small, mergeable reference profile of REFERENCE (read in one streamed pass)."""
    from airlock.monitor import Profile

    prof = Profile.from_data(reference, columns=_names(columns),
                             categorical=_names(categorical) or ())
    prof.save(output)
    size = output.stat().st_size
    summary = prof.summary()
    if as_json:
        print_json({"path": str(output), "bytes": size, **summary})
        return
    table(None, [name_col("column"), Col("kind", priority=2), "count",
                 Col("missing", priority=1), "min", "max", "mean",
                 Col("categories", priority=3)],
          [[n, c["kind"], c["count"], c["missing"], c.get("min"), c.get("max"), c.get("mean"),
            c.get("categories", "-")] for n, c in summary["columns"].items()])
    for name, why in (summary.get("skipped") or {}).items():
        console().print(f"warning: column {name} not profiled: {why}")
    console().print(f"profile of {summary['rows']:,} rows and {len(summary['columns'])} "
                    f"columns written to {output} ({size:,} bytes)")


@app.command("drift")
def drift(
    reference: str = typer.Option(..., "--reference", "-r",
                                  help="A saved profile, or reference data."),
    current: str = typer.Option(..., "--current", "-c", help="The current data."),
    columns: list[str] | None = typer.Option(None, "--columns", help=COLUMNS_HELP),
    categorical: list[str] | None = typer.Option(
        None, "--categorical", help="Treat these numeric columns as categories."),
    report: Path | None = typer.Option(None, "--report", help="Write the HTML report here."),
    method: str | None = typer.Option(
        None, "--method", help="Method for every column: ks, wasserstein, psi, "
        "jensenshannon, chisquare or z (default: chosen as Evidently does)."),
    num_method: str | None = typer.Option(None, "--num-method",
                                          help="Method for numeric columns."),
    cat_method: str | None = typer.Option(None, "--cat-method",
                                          help="Method for categorical columns."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Threshold for every column (a p-value for ks, chisquare "
        "and z; a distance otherwise)."),
    num_threshold: float | None = typer.Option(None, "--num-threshold",
                                               help="Threshold for numeric columns."),
    cat_threshold: float | None = typer.Option(None, "--cat-threshold",
                                               help="Threshold for categorical columns."),
    drift_share: float = typer.Option(
        0.5, "--drift-share", help="The dataset drifts when at least this share of columns "
        "drift."),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Also score each window of this timestamp column."),
    every: str = typer.Option("1d", "--every", help="Window length with --time-column "
                              "(30m, 1h, 1d, 1w, …)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Data drift of CURRENT against REFERENCE. Exit 0: no dataset drift; 1: dataset drift."""
    from airlock.monitor import DriftMonitor

    methods = _by_kind(method, num_method, cat_method)
    thresholds = _by_kind(threshold, num_threshold, cat_threshold)
    monitor = DriftMonitor(columns=_names(columns), categorical=_names(categorical),
                           methods=methods, thresholds=thresholds, drift_share=drift_share)
    result = monitor.fit(reference).score(
        current, time_column=time_column, every=every if time_column else None)
    if report is not None:
        from airlock.monitor import save_drift_report

        save_drift_report(result, report)
    if as_json:
        print_json(result.to_dict(distribution=False))
    else:
        _print(result.to_dict(distribution=False), report)
    if result.drifted:
        raise typer.Exit(1)


def _by_kind(every: Any, numerical: Any, categorical: Any) -> dict[str, Any] | None:
    out = {k: v for k, v in (("*", every), ("numerical", numerical),
                             ("categorical", categorical)) if v is not None}
    return out or None


def _print(out: dict[str, Any], report: Path | None) -> None:
    cols = sorted(out["columns"].items(),
                  key=lambda kv: (not kv[1]["drifted"], -kv[1]["severity"], kv[0]))
    table(None, [name_col("column"), Col("kind", priority=3), "method", "statistic",
                 "p-value", "threshold", "drifted", Col("missing Δ", priority=2),
                 Col("out of range", priority=1)],
          [[n, c["kind"], c["method"], c["statistic"], c["p_value"], c["threshold"],
            "DRIFT" if c["drifted"] else "no", f"{c['missing_rate_change']:+.2%}",
            "-" if c["out_of_range_rate"] is None else f"{c['out_of_range_rate']:.2%}"]
           for n, c in cols],
          reasons=[c.get("note") for _, c in cols], empty="no column compared")
    for w in out.get("windows", []):
        console().print(f"window {w['window']}: {w['n_drifted']}/{w['n_columns']} drifted "
                        f"(share {w['drift_share']:.2f}) "
                        f"{'DATASET DRIFT' if w['drifted'] else 'ok'}")
    for name, why in (out.get("skipped") or {}).items():
        console().print(f"skipped {name}: {why}")
    verdict = "DATASET DRIFT" if out["drifted"] else "no dataset drift"
    console().print(f"compared with: {out.get('reference') or 'the reference'}")
    console().print(f"{verdict}: {out['n_drifted']} of {out['n_columns']} columns drifted "
                    f"(share {out['drift_share']:.2f}, threshold "
                    f"{out['drift_share_threshold']:.2f})"
                    + (f"; report written to {report}" if report else ""))


# -- served endpoints and alert rules (appended) -------------------------------------------
@app.command("endpoint")
def endpoint(
    name: str = typer.Argument(..., help="The endpoint's name (as served)."),
    window: str = typer.Option("1h", "--window", help="Window length: 30s, 5m, 1h, 1d, …"),
    since: str | None = typer.Option(None, "--since", help="ISO time, or a duration back "
                                     "from now (6h)."),
    until: str | None = typer.Option(None, "--until", help="ISO time, or a duration back "
                                     "from now."),
    reference: str | None = typer.Option(
        None, "--reference", "-r", help="A saved profile or reference data: input drift "
        "(and prediction drift when it holds the output columns)."),
    prediction_reference: str | None = typer.Option(
        None, "--prediction-reference", help="A saved profile or data of predictions to "
        "compare the logged outputs with (default: the profile recorded when the served "
        "version was evaluated)."),
    report: Path | None = typer.Option(None, "--report", help="Write the HTML report here."),
    record: bool = typer.Option(False, "--record", help="Keep this check in the audit log "
                                "(evidence packs of the served versions include it)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Serving, performance and drift of endpoint NAME per window of its prediction log."""
    from airlock.monitor import monitor_endpoint, record_endpoint_check

    result = monitor_endpoint(name, window=window, since=since, until=until,
                              reference=reference, prediction_reference=prediction_reference)
    if record:
        record_endpoint_check(result)
    if report is not None:
        from airlock.monitor import save_endpoint_report

        save_endpoint_report(result, report)
    if as_json:
        print_json(result.to_dict())
        return
    _print_endpoint(result.to_dict(), report)


def _print_endpoint(out: dict[str, Any], report: Path | None) -> None:
    def pct(x: Any) -> str:
        return "-" if x is None else f"{x:.2%}"

    rows, reasons = [], []
    stamp = 19 if out.get("window_seconds", 60) < 60 else 16  # seconds only when they matter
    for w in out["windows"]:
        lat, perf = w["latency_ms"], w["performance"] or {}
        drift = w["input_drift"] or w["prediction_drift"]
        rows.append([w["start"][:stamp].replace("T", " "), w["requests"], pct(w["error_rate"]),
                     lat["p50"], lat["p95"], lat["p99"], w["throughput_rps"],
                     perf.get("accuracy", perf.get("mae")),
                     "-" if drift is None else f"{drift['drift_share']:.2f}"
                     + (" DRIFT" if drift["drifted"] else "")])
        reasons.append(_window_reason(w, drift is None))
    table(f"endpoint {out['endpoint']}",
          ["window", "requests", "errors", Col("p50 ms", priority=2), "p95 ms",
           Col("p99 ms", priority=3), Col("req/s", priority=4),
           Col("accuracy|mae", priority=1), "drift share"],
          rows, reasons=reasons, empty="no window: nothing was logged in this time range")
    t = out["totals"]
    statuses = ", ".join(f"{k}: {v:,}" for k, v in (t.get("statuses") or {}).items())
    console().print(f"{_count(t['windows'], 'window')}, {_count(t['requests'], 'request')}, "
                    "error rate "
                    f"{pct(t['error_rate'])}, p95 {_ms(t['latency_ms']['p95'])}"
                    + (f" (status {statuses})" if statuses else ""))
    s = t.get("shadow")
    if s:  # never part of the client figures above
        console().print(f"shadow (not counted above): {s['requests']:,} requests, error rate "
                        f"{pct(s['error_rate'])}, p95 {_ms(s['latency_ms']['p95'])}, "
                        f"agrees with the client's answer on {pct(s['agreement'])} of "
                        f"{s['compared']:,} rows")
    console().print(f"input drift compared with: {out['reference'] or '- (no --reference)'}")
    skipped: dict[str, str] = {}
    for w in out["windows"]:
        skipped.update((w["input_drift"] or {}).get("skipped") or {})
    for name, why in skipped.items():
        console().print(f"  not compared: {name}: {why}")
    console().print("prediction drift compared with: "
                    + (out["prediction_reference"] or
                       f"- ({out['prediction_reference_missing'] or 'not computed'})"))
    if report:
        console().print(f"report written to {report}")


def _ms(x: float | None) -> str:
    return "- (no request)" if x is None else f"{fmt_value(x)} ms"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _window_reason(w: dict[str, Any], no_drift: bool) -> str | None:
    """Why a window shows no drift figure (its ``missing`` entries) and its ``notes``."""
    missing = w.get("missing") or {}
    parts = []
    if no_drift:
        parts += [f"{k.replace('_', ' ')}: {v}" for k, v in missing.items()
                  if k in ("input_drift", "prediction_drift")]
    if w.get("error_rate_reason"):
        parts.append(f"error rate: {w['error_rate_reason']}")
    parts += [str(n) for n in w.get("notes") or []]
    return "; ".join(parts) or None


@app.command("run")
def run_alerts_command(
    rules: Path = typer.Option(..., "--rules", help="The alert rules (YAML)."),
    once: bool = typer.Option(False, "--once", help="Evaluate once; exit 1 if a rule fires."),
    every: str | None = typer.Option(None, "--every", help="Evaluate on this schedule "
                                     "(30s, 5m, 1h) until interrupted."),
    max_runs: int | None = typer.Option(None, "--max-runs", min=1,
                                        help="With --every: stop after this many runs."),
    state: Path | None = typer.Option(None, "--state", help="State file (default: under "
                                      "AIRLOCK_HOME/monitor/)."),
    prometheus_file: Path | None = typer.Option(
        None, "--prometheus-file", help="Also write gauges here (node_exporter textfile "
        "format, e.g. /var/lib/node_exporter/airlock.prom)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Evaluate alert rules; announce each breach once and its resolution once.
    Exit (with --once) 0: nothing firing; 1: a rule is firing."""
    import time

    from airlock.errors import UsageError
    from airlock.monitor import (
        default_state_path,
        load_rules,
        parse_duration,
        run_alerts,
        write_prometheus,
    )

    if once and every is not None:
        raise UsageError("use either --once or --every, not both")
    period = parse_duration(every, "--every").total_seconds() if every else None
    parsed = load_rules(rules)
    path = state or default_state_path(rules)
    count, firing = 0, False
    try:
        while True:
            result = run_alerts(parsed, state_path=path)
            firing = bool(result.firing)
            if prometheus_file is not None:
                write_prometheus(prometheus_file, result.outcomes, result.drift)
            print_json(result.to_dict()) if as_json else _print_alerts(result.to_dict())
            count += 1
            if period is None or (max_runs is not None and count >= max_runs):
                break
            time.sleep(period)
    except KeyboardInterrupt:  # --every: stopped by the user; the state is always saved
        pass
    if firing:
        raise typer.Exit(1)


def _print_alerts(out: dict[str, Any]) -> None:
    table(None, [name_col("rule"), Col("kind", priority=2),
                 Col("endpoint", wrap=True, priority=3), "value", "threshold", "state",
                 Col("change", priority=1)],
          [[r["rule"], r["kind"], r["endpoint"], r["value"], r["threshold"],
            "FIRING" if r["firing"] else ("no data" if r["breached"] is None else "ok"),
            r["change"] or "-"] for r in out["rules"]],
          reasons=[_alert_reason(r) for r in out["rules"]])
    import sys

    for err in out["notification_errors"]:
        sys.stderr.write(f"warning: {err}\n")
    console().print(f"{len(out['firing'])} of {len(out['rules'])} rules firing at {out['at']}")


def _alert_reason(r: dict[str, Any]) -> str | None:
    """What a rule with no value saw (its details: requests, labelled rows, …)."""
    if r["breached"] is not None:
        return None
    seen = ", ".join(f"{k} {v}" for k, v in (r.get("details") or {}).items()
                     if not isinstance(v, dict | list))
    return f"no value: {seen}" if seen else "no value"
