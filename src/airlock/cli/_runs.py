"""`airlock runs …`: list, show and compare tracked runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, console, fmt_time, fmt_value, print_json, table
from ._table import Col, name_col, print_table, short_id, sparkline

app = typer.Typer(help="Tracked runs: list, show, compare.", no_args_is_help=True)


@app.command("list")
def list_runs(
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this experiment."),
    filter: str | None = typer.Option(
        None, "--filter", "-f", help='e.g. "metrics.val_auc > 0.9 and params.max_depth = 6"'),
    order_by: str | None = typer.Option(None, "--order-by", help="e.g. metrics.val_auc DESC"),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    from airlock._api import search_runs

    runs = search_runs(filter, experiment=experiment, order_by=order_by, limit=limit)
    if as_json:
        print_json([_summary(r.to_dict()) for r in runs])
        return
    print_table(*_list_table(runs), empty="no runs" + (f" in experiment {experiment}"
                                                       if experiment else ""))


def _list_table(runs: list[Any]) -> tuple[list[Col], list[list[Any]]]:
    """Ids (8 characters), then metrics and params as many as fit: the first metric and
    param are the last to be left out (``p.`` marks a param)."""
    metrics = sorted({k for r in runs for k in r.metrics})
    params = sorted({k for r in runs for k in r.params})
    cols = [Col("id"), name_col("experiment"), Col("status", priority=6),
            Col("started", priority=5),
            *[Col(k, priority=10 + 2 * i) for i, k in enumerate(metrics)],
            *[Col(f"p.{k}", priority=11 + 2 * i) for i, k in enumerate(params)]]
    rows = [[short_id(r.id), r.experiment, r.status, fmt_time(r.start_time, seconds=False),
             *[r.metrics.get(k) for k in metrics], *[r.params.get(k) for k in params]]
            for r in runs]
    return cols, rows


def _summary(d: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "experiment", "name", "status", "start_time", "end_time", "params", "metrics",
            "tags")
    return {k: d[k] for k in keep}


def _get(run_id: str) -> Any:
    from airlock._api import get_run, search_runs
    from airlock.errors import NotFound, UsageError

    if len(run_id) < 32:  # a prefix, as `runs list` prints
        if len(run_id) < 4:
            raise UsageError(f"run id prefix {run_id!r} is too short: give at least 4 characters")
        found = [r for r in search_runs() if r.id.startswith(run_id)]
        if len(found) > 1:
            raise UsageError(f"run id prefix {run_id!r} is ambiguous ({len(found)} runs)")
        if not found:
            raise NotFound(f"run not found: {run_id}")
        run_id = found[0].id
    return get_run(run_id)


@app.command("show")
def show(run_id: str = typer.Argument(..., help="Run id (or a unique prefix of ≥ 4 chars)."),
         as_json: bool = JSON_OPTION) -> None:
    """Everything recorded for one run, with each metric's history (last, min, max, steps
    and a sparkline; --json: every point)."""
    from airlock._api import get_metric_history

    run = _get(run_id)
    history = {k: get_metric_history(run.id, k) for k in sorted(run.metrics)}
    if as_json:
        print_json({**run.to_dict(), "metric_history": {
            k: [{"step": p.step, "value": _finite(p.value), "timestamp": p.timestamp}
                for p in points] for k, points in history.items()}})
        return
    c = console()
    c.print(f"[bold]run {run.id}[/] ({run.experiment}) {run.status}")
    c.print(f"started {fmt_time(run.start_time)}  ended {fmt_time(run.end_time)}  by {run.user}")
    if run.error:
        c.print(f"[red]error:[/] {run.error}")
    if run.code:
        dirty = " (dirty)" if run.code.get("git_dirty") else ""
        c.print(f"code: {run.code.get('git_commit')}{dirty}")
    c.print(f"python {run.env.get('python')} on {run.env.get('platform')}")
    if run.params:
        table("params", ["key", Col("value", wrap=True)],
              [[k, v] for k, v in sorted(run.params.items())])
    if history:
        table("metrics", ["key", "last", "min", "max", "steps", Col("history", priority=1)],
              [_metric_row(k, run.metrics[k], points) for k, points in history.items()])
    if run.tags:
        table("tags", ["key", Col("value", wrap=True)],
              [[k, v] for k, v in sorted(run.tags.items())])
    if run.artifacts:
        table("artifacts", [Col("path", wrap=True), "size", Col("sha256", priority=1)],
              [[a.path, a.size, a.sha256[:12]] for a in run.artifacts])
    if run.inputs:
        table("inputs", [Col("name", wrap=True), "context", "rows", Col("sha256", priority=1)],
              [[i["name"], i["context"], i["rows"], i["digest"][:12]] for i in run.inputs])


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _metric_row(key: str, last: float, points: list[Any]) -> list[Any]:
    values = [p.value for p in points if math.isfinite(p.value)]
    lo, hi = (min(values), max(values)) if values else (None, None)
    steps = len({p.step for p in points})
    return [key, last, lo, hi, steps, sparkline([p.value for p in points])]


@app.command("artifacts")
def artifacts(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix of ≥ 4 chars)."),
    download: Path | None = typer.Option(None, "--download", help="Copy every artifact into "
                                         "this folder (each verified by its sha256)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a run's artifacts (path, size, sha256), or --download them into a folder."""
    from airlock._api import download_artifacts

    run = _get(run_id)
    rows = [{"path": a.path, "size": a.size, "sha256": a.sha256} for a in run.artifacts]
    files = download_artifacts(run.id, download) if download is not None else None
    if as_json:
        out: dict[str, Any] = {"run": run.id, "artifacts": rows}
        if files is not None:
            out["downloaded_to"] = str(download)
        print_json(out)
        return
    table(f"artifacts of run {short_id(run.id)}",
          [Col("path", wrap=True), "size", Col("sha256", priority=1)],
          [[r["path"], r["size"], r["sha256"][:12]] for r in rows],
          empty="no artifacts were logged by this run")
    if files is not None:
        total = sum(r["size"] for r in rows)
        noun = "file" if len(files) == 1 else "files"
        console().print(f"{len(files):,} {noun} ({total:,} bytes) downloaded to {download}, "
                        "sha256 verified")


@app.command("compare")
def compare(run_ids: list[str] = typer.Argument(..., help="Two or more run ids."),
            as_json: bool = JSON_OPTION) -> None:
    """Params and metrics of several runs side by side; differing rows are marked."""
    from airlock.errors import UsageError

    if len(run_ids) < 2:
        raise UsageError("compare needs at least two run ids")
    runs = [_get(r) for r in run_ids]
    if as_json:
        print_json([_summary(r.to_dict()) for r in runs])
        return
    rows = []
    for kind in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r, kind)})
        for k in keys:
            vals = [getattr(r, kind).get(k) for r in runs]
            differs = len({repr(v) for v in vals}) > 1
            if differs and len({fmt_value(v) for v in vals}) < len({repr(v) for v in vals}):
                vals = [v if v is None else repr(v) for v in vals]  # rounding hid the change
            rows.append([("* " if differs else "  ") + f"{kind}.{k}", *vals])
    table(None, [Col("key", wrap=True), *[short_id(r.id) for r in runs]], rows)
