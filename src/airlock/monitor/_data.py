"""Reading the data to profile or score: in-memory tables (pandas, polars, pyarrow) or files
(Parquet, CSV/TSV, Arrow IPC/Feather, JSON lines; a file, a folder or a glob).

Files are opened as a ``pyarrow.dataset``: nothing is read until a column projection is asked
for (:meth:`Data.read`, whole columns) or streamed in row batches (:meth:`Data.batches`), so a
Parquet file is only ever read column by column or batch by batch.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from airlock.errors import InvalidInput, NotFound, UsageError, file_not_found

__all__ = ["BATCH_ROWS", "Data", "column_kind", "open_data", "to_float", "to_text"]

BATCH_ROWS = 262_144
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv",
            ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc", ".jsonl": "json",
            ".ndjson": "json", ".json": "json"}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")


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
    """One input: ``table`` (in memory) or ``dataset`` (files), and a name for messages."""

    name: str
    table: pa.Table | None = None
    dataset: Any = None

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema if self.table is not None else self.dataset.schema

    def count_rows(self) -> int:
        if self.table is not None:
            return int(self.table.num_rows)
        return int(self.dataset.count_rows())

    def read(self, columns: Sequence[str]) -> pa.Table:
        """Whole columns (a projection; the other columns are not read)."""
        try:
            if self.table is not None:
                return self.table.select(list(columns))
            return self.dataset.to_table(columns=list(columns))
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"cannot read {self.name}: {_first(exc)}") from exc

    def batches(self, columns: Sequence[str], rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
        """The projection in row batches of at most ``rows`` rows."""
        try:
            if self.table is not None:
                table = self.table.select(list(columns))
                for start in range(0, table.num_rows, rows):
                    yield table.slice(start, rows)
                return
            for batch in self.dataset.to_batches(columns=list(columns), batch_size=rows):
                if batch.num_rows:
                    yield pa.Table.from_batches([batch])
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"cannot read {self.name}: {_first(exc)}") from exc


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_data(obj: Any, *, what: str = "data") -> Data:
    """Wrap a table or open a path lazily; ``what`` names the input in error messages."""
    if isinstance(obj, Data):
        return obj
    if isinstance(obj, str | Path):
        return _open_path(str(obj), what)
    if type(obj).__name__ == "LazyFrame":
        obj = obj.collect(engine="streaming")
    from airlock.data import to_arrow

    return Data(name=what, table=to_arrow(obj))


def _format(path: str) -> str:
    name = path.lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    fmt = _FORMATS.get(Path(name).suffix)
    if fmt is None:
        raise UsageError(f"cannot tell the format of {path!r}: use a .parquet, .csv, .tsv, "
                         ".arrow/.feather or .jsonl file, or a folder of Parquet files")
    return fmt


def _dataset_format(fmt: str) -> Any:
    import pyarrow.dataset as ds

    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pcsv

        return ds.CsvFileFormat(parse_options=pcsv.ParseOptions(
            delimiter="\t" if fmt == "tsv" else ","))
    if fmt == "json":
        return ds.JsonFileFormat()
    return fmt


def _open_path(path: str, what: str) -> Data:
    import pyarrow.dataset as ds

    p = Path(path)
    if any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path, recursive=True))
        if not files:
            raise NotFound(f"{what}: no file matches {path!r}")
        source: Any = files
        fmt = _format(files[0])
    elif p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet"))
        if not files:
            raise NotFound(f"{what}: folder {path!r} holds no .parquet file")
        source, fmt = files, "parquet"
    elif p.exists():
        source, fmt = path, _format(path)
    else:
        raise file_not_found(path, f"{what} file")
    try:
        dataset = ds.dataset(source, format=_dataset_format(fmt))
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"cannot read {what} {path!r}: {_first(exc)}") from exc
    return Data(name=f"{what} {path!r}", dataset=dataset)
