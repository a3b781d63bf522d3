"""`airlock batch score | status`: batch scoring on the local, Ray or Spark engine.

``batch score`` exits 0 when every fragment was scored and the reject rate is within
``--max-reject-rate``, 1 when a fragment failed or the rejects are too many, 2 on a usage or
input error (nothing is written then).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, console, fmt_time, print_json

app = typer.Typer(help="Batch scoring: score files with a model version, resumably.",
                  no_args_is_help=True)


def _names(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def _pct(rate: float) -> str:
    return f"{rate * 100:.3g} %"


@app.command("score")
def score_command(
    ref: str = typer.Argument(..., help="The model: NAME, NAME@VERSION or NAME@ALIAS."),
    input: str = typer.Option(..., "--input", "-i", help="Parquet, CSV or JSON lines: a "
                              "file, a folder or a glob, local or an fsspec URL (s3://…)."),
    output: str = typer.Option(..., "--output", "-o", help="The output folder (Parquet, one "
                               "file per input file), local or an fsspec URL."),
    engine: str = typer.Option("local", "--engine", help="local | ray | spark"),
    workers: int | None = typer.Option(None, "--workers", help="Workers: processes "
                                       "(default: one per core), Ray actors (all CPUs but "
                                       "one) or Spark tasks in flight (every core)."),
    batch_size: int = typer.Option(65536, "--batch-size", help="Rows per scored batch."),
    keep: str | None = typer.Option(None, "--keep", help="Input columns to copy to the "
                                    "output, e.g. id,customer_id."),
    resume: bool = typer.Option(False, "--resume", help="Continue the job this command "
                                "started (re-running it does too); refuse to start anew."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an output written by "
                                   "another model version or with other --keep columns."),
    max_reject_rate: float | None = typer.Option(
        None, "--max-reject-rate", help="Fail (exit 1) when more of the rows are rejected."),
    profile: Path | None = typer.Option(None, "--profile", help="Write the drift profile of "
                                        "the inputs and predictions here."),
    log_as: str | None = typer.Option(None, "--log-as", help="Append the rows to this "
                                      "endpoint's prediction log."),
    trusted: bool = typer.Option(False, "--trusted", help="Load a pickle-based model."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Score INPUT with the model REF into OUTPUT; only what is missing is scored."""
    from airlock.batch import score

    result = score(ref, input, output, engine=engine, workers=workers, batch_size=batch_size,
                   keep=_names(keep), resume=resume, overwrite=overwrite,
                   max_reject_rate=max_reject_rate, profile=profile, log_as=log_as,
                   trusted=trusted or None, progress=not as_json)
    out = result.to_dict()
    if as_json:
        print_json(out)
    else:
        _print_result(out)
    if not result.passed:
        raise typer.Exit(1)


def _print_result(out: dict[str, Any]) -> None:
    c = console()
    f = out["fragments"]
    c.print(f"job {out['job_id']}: {out['model']} on {out['engine']}, "
            f"{out['status'].upper()}")
    c.print(f"fragments: {f['done']} scored, {f['skipped']} already done, "
            f"{f['failed']} failed")
    c.print(f"rows: {out['rows']:,} scored, {out['rejected']:,} rejected "
            f"({_pct(out['reject_rate'])}); {out['rows_per_s']:,.0f} rows/s, "
            f"{out['seconds']:.1f} s")
    c.print(f"output: {out['output']}")
    if out["rejected"]:
        c.print(f"rejects: {out['output'].rstrip('/')}/_rejects/")
    if out.get("profile"):
        c.print(f"profile: {out['profile']}")
    if out.get("log_as"):
        c.print(f"logged as endpoint: {out['log_as']}")
    c.print(f"run: {out['run_id']}")
    if out["max_reject_rate"] is not None and out["reject_rate"] > out["max_reject_rate"]:
        c.print(f"reject rate {_pct(out['reject_rate'])} is over --max-reject-rate "
                f"{_pct(out['max_reject_rate'])}")
    for key, error in out["errors"].items():
        c.print(f"failed: {key}: {error}")


@app.command("status")
def status_command(
    job_id: str = typer.Argument(..., help="A batch job id (bj-…), as `batch score` prints."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A job's fragments (done / pending / failed), rows, rejects and rows/s."""
    from airlock.batch import job_status

    st = job_status(job_id).to_dict()
    if as_json:
        print_json(st)
        return
    c = console()
    f = st["fragments"]
    c.print(f"job {st['job_id']}: {st['model']} on {st['engine']}, {st['status']}")
    c.print(f"fragments: {f['total']} in all, {f['done']} done, {f['pending']} pending, "
            f"{f['failed']} failed")
    rate = "-" if st["rows_per_s"] is None else f"{st['rows_per_s']:,.0f}"
    c.print(f"rows: {st['rows']:,} scored, {st['rejected']:,} rejected; last run "
            f"{rate} rows/s")
    c.print(f"input: {st['input']}")
    c.print(f"output: {st['output']}")
    c.print(f"run: {st['run_id'] or '-'}; updated {fmt_time(st['updated_at'])}")
    for key, error in st["errors"].items():
        c.print(f"failed: {key}: {error}")
