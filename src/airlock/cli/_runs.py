"""`airlock runs …`: list, show and compare tracked runs."""

from __future__ import annotations

from typing import Any

import typer

from ._common import JSON_OPTION, console, fmt_time, fmt_value, print_json, table

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
    keys = sorted({k for r in runs for k in r.metrics})[:6]
    table(None, ["id", "experiment", "status", "started", *keys],
          [[r.id[:12], r.experiment, r.status, fmt_time(r.start_time),
            *[r.metrics.get(k) for k in keys]] for r in runs])


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
    """Everything recorded for one run."""
    run = _get(run_id)
    if as_json:
        print_json(run.to_dict())
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
    table("params", ["key", "value"], [[k, v] for k, v in sorted(run.params.items())])
    table("metrics (latest)", ["key", "value"], [[k, v] for k, v in sorted(run.metrics.items())])
    if run.tags:
        table("tags", ["key", "value"], [[k, v] for k, v in sorted(run.tags.items())])
    if run.artifacts:
        table("artifacts", ["path", "size", "sha256"],
              [[a.path, a.size, a.sha256[:16]] for a in run.artifacts])
    if run.inputs:
        table("inputs", ["name", "context", "rows", "sha256"],
              [[i["name"], i["context"], i["rows"], i["digest"][:16]] for i in run.inputs])


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
            differs = len({fmt_value(v) for v in vals}) > 1
            rows.append([("* " if differs else "  ") + f"{kind}.{k}", *vals])
    table(None, ["key", *[r.id[:12] for r in runs]], rows)
