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

from ._common import JSON_OPTION, console, print_json

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


def _short(value: Any, width: int = 40) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, default=str,
                                                           separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _console() -> Any:
    """The terminal's width (or ``COLUMNS``); 160 when piped with no ``COLUMNS``."""
    import os

    from rich.console import Console

    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = max(out.width, 160)
    return out


def _print_rows(endpoint: str, rows: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    t = Table(title=f"prediction log of {endpoint}", box=box.SIMPLE_HEAD, header_style="bold",
              show_edge=False, collapse_padding=True, pad_edge=False)
    for name, kw in (("time", {"no_wrap": True}), ("request", {"overflow": "fold"}),
                     ("route@v", {"overflow": "fold"}), ("status", {"justify": "right"}),
                     ("ms", {"justify": "right"}), ("inputs", {"overflow": "fold", "ratio": 1}),
                     ("answer or error", {"overflow": "fold", "ratio": 2})):
        t.add_column(name, **kw)
    for r in rows:
        version = "" if r["version"] is None else f"@{r['version']}"
        t.add_row(r["ts"].strftime("%m-%d %H:%M:%S"), r["request_id"],
                  f"{r['route']}{version}", str(r["status"]), f"{float(r['latency_ms']):.1f}",
                  _short(r["inputs"], 60),
                  _short(r.get("error"), 120) if r.get("error") else _short(r["outputs"], 120))
    _console().print(t)


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
    _console().print(f"{total:,} rows{more}")
