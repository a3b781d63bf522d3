"""`airlock logs read ENDPOINT`: what an endpoint answered, from its prediction log.

Reads the current store's log (Parquet segments and the live spools of a running server)
with the same reader as the Python API (:func:`airlock.predlog.read_prediction_log`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, Col, console, fmt_value, print_json, table

app = typer.Typer(help="The prediction log: every answered request, redacted.",
                  no_args_is_help=True)

_STATUS = re.compile(r"([1-5])(?:xx|\d\d)")
TABLE_LIMIT = 20
BAD_STATUS = ("invalid --status {!r}: use a code (503), a class (5xx) or a comma-separated "
              "list of them (4xx,503)")


def _status_filter(text: str | None) -> list[tuple[int, int]] | None:
    """``5xx`` → [(500, 600)], ``503`` → [(503, 504)], ``4xx,503`` → both."""
    if text is None:
        return None
    from airlock.errors import UsageError

    out = []
    for token in (t.strip().lower() for t in text.split(",")):
        if not _STATUS.fullmatch(token):
            raise UsageError(BAD_STATUS.format(text))
        if token.endswith("xx"):
            out.append((int(token[0]) * 100, int(token[0]) * 100 + 100))
        else:
            out.append((int(token), int(token) + 1))
    return out


def _short(value: Any, width: int = 60) -> str:
    """Logged inputs or outputs for a person: ``alcohol=10.13, hue=1.362`` (numbers rounded,
    cut at ``width`` characters; --json and --parquet have every value)."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_one(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(_one(v) for v in value)
    else:
        text = _one(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _one(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(",", ":"))
    return fmt_value(value)


def _print_rows(endpoint: str, rows: list[dict[str, Any]]) -> None:
    """One line per row; a failed row's error under it, in full (never cut)."""
    table(f"prediction log of {endpoint}",
          ["time", Col("request", wrap=True), Col("route@v", priority=3), "status",
           Col("ms", priority=4), Col("inputs", wrap=True, priority=2, min_width=20),
           Col("answer", wrap=True, priority=1)],
          [[r["ts"].strftime("%m-%d %H:%M:%S"), r["request_id"],
            f"{r['route']}{'' if r['version'] is None else '@' + str(r['version'])}",
            str(r["status"]), float(r["latency_ms"]), _short(r["inputs"]),
            "-" if r.get("error") else _short(r["outputs"])] for r in rows],
          reasons=[_error(r) for r in rows], reason_header="error")


def _error(r: dict[str, Any]) -> str | None:
    if not r.get("error") and not r.get("error_code"):
        return None
    return ": ".join(str(x) for x in (r.get("error_code"), r.get("error")) if x)


@app.command("read")
def read(
    endpoint: str = typer.Argument(..., help="The endpoint's name (as served)."),
    since: str | None = typer.Option(None, "--since", help="ISO time, or a duration back "
                                     "from now (1h)."),
    until: str | None = typer.Option(None, "--until", help="ISO time, or a duration back "
                                     "from now."),
    status: str | None = typer.Option(None, "--status", help="Only these statuses: a code "
                                      "(503), a class (5xx) or a list (4xx,503)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="The newest N rows "
                                     f"(default: {TABLE_LIMIT} in the table, all with "
                                     "--json or --parquet)."),
    parquet: Path | None = typer.Option(None, "--parquet", help="Write the rows to this "
                                        "Parquet file instead of printing them."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Rows of ENDPOINT's prediction log (one per input row), oldest first."""
    import pyarrow.compute as pc

    from airlock.errors import UsageError
    from airlock.monitor import to_datetime
    from airlock.predlog import read_prediction_log

    if as_json and parquet is not None:
        raise UsageError("use either --json or --parquet, not both")
    ranges = _status_filter(status)
    lo, hi = to_datetime(since, "--since"), to_datetime(until, "--until")
    log = read_prediction_log(endpoint, since=lo, until=hi)
    if ranges is not None and log.num_rows:
        code = log.column("status")
        mask = None
        for a, b in ranges:
            one = pc.and_(pc.greater_equal(code, a), pc.less(code, b))
            mask = one if mask is None else pc.or_(mask, one)
        log = log.filter(pc.fill_null(mask, False))
    total = log.num_rows
    if log.num_rows:
        log = log.sort_by([("ts", "ascending"), ("request_id", "ascending"),
                           ("row", "ascending")])
    keep = limit if limit is not None else (None if as_json or parquet else TABLE_LIMIT)
    if keep is not None and log.num_rows > keep:
        log = log.slice(log.num_rows - keep)
    if parquet is not None:
        import pyarrow.parquet as pq

        from airlock._files import write_atomic

        write_atomic(parquet, lambda fh: pq.write_table(log, fh, compression="zstd"))
        console().print(f"{log.num_rows:,} rows of {endpoint} written to {parquet}")
        return
    rows = log.to_pylist()
    if as_json:
        print_json({"endpoint": endpoint, "matched": total, "rows": len(rows),
                    "records": [{**r, "ts": r["ts"].isoformat()} for r in rows]})
        return
    _print_rows(endpoint, rows)
    more = f" (the newest {len(rows):,}; --limit to see more)" if total > len(rows) else ""
    console().print(f"{total:,} rows{more}")
