"""Evaluation data: read only the needed columns, and turn columns into group codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.data import to_arrow
from airlock.errors import InvalidInput, UsageError, file_not_found

__all__ = ["group_codes", "read_table", "require_columns"]

NULL_LABEL = "<null>"


def read_table(data: Any, columns: list[str] | None = None) -> pa.Table:
    """A path (CSV, Parquet, JSON lines, Arrow IPC) or a table-like, as Arrow."""
    if not isinstance(data, str | Path):
        return to_arrow(data)
    import polars as pl

    path = Path(data)
    if not path.exists():
        raise file_not_found(path, "data file")
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    readers: dict[str, Any] = {".parquet": pl.scan_parquet, ".pq": pl.scan_parquet,
                               ".csv": pl.scan_csv, ".ndjson": pl.scan_ndjson,
                               ".jsonl": pl.scan_ndjson, ".arrow": pl.scan_ipc,
                               ".ipc": pl.scan_ipc}
    if path.is_dir():
        lf = pl.scan_parquet(str(path / "**/*.parquet"))
    elif suffix in readers:
        lf = readers[suffix](str(path))
    elif suffix == ".csv.gz":
        lf = pl.read_csv(str(path)).lazy()
    else:
        raise UsageError(f"cannot read {path}: use CSV, Parquet, JSON lines or Arrow IPC")
    try:
        if columns is not None:
            present = set(lf.collect_schema().names())
            lf = lf.select([c for c in columns if c in present])
        return lf.collect().to_arrow()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidInput(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc


def require_columns(table: pa.Table, needed: dict[str, list[str]]) -> None:
    """Raise naming every missing column and what it was wanted for."""
    have = set(table.column_names)
    missing = [f"{col!r} ({why})" for why, cols in needed.items() for col in cols
               if col not in have]
    if missing:
        raise UsageError(f"missing column{'s' if len(missing) > 1 else ''} in the data: "
                         f"{', '.join(missing)}")


def group_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Integer codes 0..G-1 and their labels (sorted; nulls labelled '<null>')."""
    import polars as pl

    s = pl.Series(values=column).cast(pl.String).fill_null(NULL_LABEL)
    labels = sorted(s.unique().to_list())
    lookup = pl.DataFrame({"v": labels, "code": np.arange(len(labels), dtype=np.int64)})
    codes = (pl.DataFrame({"v": s}).join(lookup, on="v", how="left", maintain_order="left")
             ["code"].to_numpy())
    return codes.astype(np.int64), [str(v) for v in labels]
