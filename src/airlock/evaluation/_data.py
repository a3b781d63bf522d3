"""Evaluation data: read only the needed columns, and turn columns into group codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airlock._files import read_table as read_file
from airlock.data import to_arrow
from airlock.errors import UsageError

__all__ = ["group_codes", "read_table", "require_columns"]

NULL_LABEL = "<null>"


def read_table(data: Any, columns: list[str] | None = None) -> pa.Table:
    """A path (CSV, Parquet, JSON lines, Arrow IPC; a file, folder or glob) or a table-like,
    as Arrow; of a file, only ``columns`` (those it has) are read."""
    if isinstance(data, str | Path):
        return read_file(data, columns=columns)
    return to_arrow(data)


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
