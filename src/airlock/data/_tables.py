"""Tables at the boundary: pandas, polars, pyarrow, numpy and plain Python in, Arrow inside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput

if TYPE_CHECKING:
    import polars as pl

__all__ = ["from_arrow", "table_kind", "to_arrow", "to_lazy"]


def table_kind(obj: Any) -> str:
    """'pandas', 'polars', 'arrow', 'numpy' or 'python': what the caller handed us."""
    mod = type(obj).__module__.split(".")[0]
    if mod in ("pandas", "polars", "numpy"):
        return mod
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return "arrow"
    return "python"


def to_arrow(obj: Any, *, columns: Sequence[str] | None = None) -> pa.Table:
    """Convert any supported table-like to an Arrow table (zero-copy where possible)."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    kind = table_kind(obj)
    try:
        if kind == "polars":
            if type(obj).__name__ == "Series":
                obj = obj.to_frame()
            if type(obj).__name__ == "LazyFrame":
                obj = obj.collect()
            return obj.to_arrow()
        if kind == "pandas":
            if type(obj).__name__ == "Series":
                obj = obj.to_frame()
            return pa.Table.from_pandas(obj, preserve_index=False)
        if kind == "numpy":
            return _from_numpy(np.asarray(obj), columns)
        if isinstance(obj, Mapping):
            return pa.table({str(k): _column(str(k), v) for k, v in obj.items()})
        if isinstance(obj, Sequence) and obj and isinstance(obj[0], Mapping):
            names = list(dict.fromkeys(k for row in obj for k in row))
            return pa.table({str(k): _column(str(k), [row.get(k) for row in obj])
                             for k in names})
        if isinstance(obj, Sequence) and obj and isinstance(obj[0], Sequence):
            return _from_numpy(np.asarray(obj), columns)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
        raise InvalidInput(f"cannot read the table: {exc}") from exc
    raise InvalidInput(
        f"expected a table (pandas, polars, pyarrow, numpy, a dict of columns or a list of "
        f"records), got {type(obj).__name__}"
    )


def to_lazy(obj: Any) -> pl.LazyFrame:
    """Any supported table-like as a ``polars.LazyFrame`` (a LazyFrame is returned as is).

    Files are not table-likes: ``airlock._files.scan_table`` opens those."""
    import polars as pl

    if isinstance(obj, pl.LazyFrame):
        return obj
    if isinstance(obj, pl.DataFrame):
        return obj.lazy()
    frame = pl.from_arrow(to_arrow(obj))
    assert isinstance(frame, pl.DataFrame)
    return frame.lazy()


def _column(name: str, values: Any) -> Any:
    """One column of plain-Python input; a value that does not fit names its column."""
    if isinstance(values, pa.Array | pa.ChunkedArray | np.ndarray):
        return values
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        values = [values]  # a scalar: a one-row column
    try:
        return pa.array(list(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"column {name!r}: {str(exc).splitlines()[0]}") from exc


def _from_numpy(arr: np.ndarray[Any, Any], columns: Sequence[str] | None) -> pa.Table:
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidInput(f"expected a 2-D array, got shape {arr.shape}")
    names = list(columns) if columns is not None else [f"f{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise InvalidInput(f"the array has {arr.shape[1]} columns, expected {len(names)}")
    return pa.table({n: arr[:, i] for i, n in enumerate(names)})


def from_arrow(table: pa.Table, kind: str) -> Any:
    """Hand a result back in the caller's kind (numpy and Python callers get polars)."""
    if kind == "pandas":
        return table.to_pandas()
    if kind == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)
