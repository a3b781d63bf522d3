"""Reading the data to profile or score: in-memory tables (pandas, polars, pyarrow) or files
(Parquet, CSV/TSV, Arrow IPC/Feather, JSON lines; a file, a folder or a glob).

Files are opened with the one reader (``airlock._files.scan_table``) as a lazy frame: nothing is
read until a column projection is asked for (:meth:`Data.read`, whole columns) or streamed in
row batches (:meth:`Data.batches`), so a Parquet file is only ever read column by column or
batch by batch. Index columns that pandas wrote are left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from airlock._files import reading, scan_table
from airlock.errors import file_not_found

__all__ = ["BATCH_ROWS", "Data", "column_kind", "open_data", "to_float", "to_text"]

BATCH_ROWS = 262_144


def column_kind(dtype: pa.DataType) -> str | None:
    """'numerical', 'categorical' or None (a type drift is not measured on)."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "numerical"
    if (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
            or pa.types.is_string_view(dtype) or pa.types.is_boolean(dtype)
            or pa.types.is_dictionary(dtype)):
        return "categorical"
    return None


def to_float(col: pa.ChunkedArray | pa.Array) -> NDArray[np.float64]:
    """A numeric column as float64 with NaN for nulls."""
    import pyarrow.compute as pc

    arr = pc.cast(col, pa.float64())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    out: NDArray[np.float64] = arr.to_numpy(zero_copy_only=False)
    return out


def to_text(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A categorical column as strings (dictionaries decoded, booleans as 'true'/'false')."""
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return col


@dataclass(frozen=True, slots=True)
class Data:
    """One input: ``table`` (in memory) or ``frame`` (a lazy scan of files), and a name for
    messages."""

    name: str
    table: pa.Table | None = None
    frame: Any = None  # a polars LazyFrame

    @property
    def schema(self) -> pa.Schema:
        if self.table is not None:
            return self.table.schema
        import polars as pl

        with reading(self.name):
            empty = pl.DataFrame(schema=self.frame.collect_schema())
        return empty.to_arrow().schema

    def count_rows(self) -> int:
        if self.table is not None:
            return int(self.table.num_rows)
        import polars as pl

        with reading(self.name):
            return int(self.frame.select(pl.len()).collect(engine="streaming").item())

    def read(self, columns: Sequence[str]) -> pa.Table:
        """Whole columns (a projection; the other columns are not read)."""
        if self.table is not None:
            return self.table.select(list(columns))
        with reading(self.name):
            out: pa.Table = self.frame.select(list(columns)).collect(
                engine="streaming").to_arrow()
        return out

    def batches(self, columns: Sequence[str], rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
        """The projection in row batches of at most ``rows`` rows."""
        if self.table is not None:
            table = self.table.select(list(columns))
            for start in range(0, table.num_rows, rows):
                yield table.slice(start, rows)
            return
        with reading(self.name):
            for frame in self.frame.select(list(columns)).collect_batches(chunk_size=rows):
                batch = frame.to_arrow()
                for start in range(0, batch.num_rows, rows):
                    yield batch.slice(start, rows)


def open_data(obj: Any, *, what: str = "data") -> Data:
    """Wrap a table or open a path lazily; ``what`` names the input in error messages."""
    if isinstance(obj, Data):
        return obj
    if isinstance(obj, str | Path):
        if not any(ch in str(obj) for ch in "*?[") and not Path(obj).exists():
            raise file_not_found(obj, f"{what} file")  # says which input is missing
        return Data(name=f"{what} {str(obj)!r}", frame=scan_table(obj))
    if type(obj).__name__ == "LazyFrame":
        obj = obj.collect(engine="streaming")
    from airlock.data import to_arrow

    return Data(name=what, table=to_arrow(obj))
