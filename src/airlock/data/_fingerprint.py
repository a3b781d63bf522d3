"""Dataset fingerprints: sha256 of the content, the schema and the row count.

Files are hashed as bytes (streamed); a folder hashes the sorted list of its files' paths
and hashes. In-memory tables are hashed as Arrow IPC in fixed 64k-row slices, so the digest
depends on the values and the schema, not on how the table happens to be chunked.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa

from airlock._files import reading, scan_table, table_format
from airlock.errors import file_not_found
from airlock.store import DatasetInfo, sha256_file

from ._tables import to_arrow

__all__ = ["fingerprint"]

SLICE_ROWS = 1 << 16


class _HashSink:
    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        self.h.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def fingerprint(data: Any, *, name: str | None = None) -> DatasetInfo:
    """Fingerprint a path (file or folder) or any table-like."""
    if isinstance(data, str | Path):
        return _fingerprint_path(Path(data), name)
    table = to_arrow(data)
    schema = pa.schema([pa.field(f.name, _canonical_type(f.type)) for f in table.schema])
    sink = _HashSink()
    with pa.ipc.new_stream(sink, _hashed_schema(schema)) as writer:
        for start in range(0, max(table.num_rows, 1), SLICE_ROWS):
            writer.write_batch(_canonical_batch(table.slice(start, SLICE_ROWS), schema))
    return DatasetInfo(name=name or "dataset", digest=sink.h.hexdigest(),
                       schema=_schema(schema), rows=table.num_rows)


def _canonical_type(t: pa.DataType) -> pa.DataType:
    """One spelling per logical type: text is large_string whoever produced it."""
    if pa.types.is_dictionary(t):
        return _canonical_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary(t) or pa.types.is_binary_view(t):
        return pa.large_binary()
    return t


def _hashed_schema(schema: pa.Schema) -> pa.Schema:
    """Each column is hashed as (validity, values with nulls zeroed)."""
    fields = []
    for f in schema:
        fields += [pa.field(f"{f.name}\0valid", pa.bool_(), nullable=False),
                   pa.field(f.name, f.type)]
    return pa.schema(fields)


def _canonical_batch(table: pa.Table, schema: pa.Schema) -> pa.RecordBatch:
    """Arrays rebuilt from their values only: the bytes under nulls, unused bitmap bits and
    chunk boundaries (all of which differ between pandas, polars and pyarrow) drop out."""
    import pyarrow.compute as pc

    arrays = []
    for col, field in zip(table.columns, schema, strict=True):
        arr = col.combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if not arr.type.equals(field.type):
            arr = arr.cast(field.type)
        valid = pc.is_valid(arr)
        if arr.null_count:
            # nested types cannot be filled: kept as they are
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError,
                                     pa.ArrowTypeError):
                arr = pc.fill_null(arr, _zero(field.type))
        else:  # copy into fresh buffers so slicing offsets do not matter
            arr = pa.concat_arrays([arr])
        arrays += [pa.concat_arrays([valid]), arr]
    return pa.RecordBatch.from_arrays(arrays, schema=_hashed_schema(schema))


def _zero(t: pa.DataType) -> pa.Scalar:
    if pa.types.is_large_string(t):
        return pa.scalar("", t)
    if pa.types.is_large_binary(t):
        return pa.scalar(b"", t)
    if pa.types.is_boolean(t):
        return pa.scalar(False)
    return pa.scalar(0).cast(t)


def _schema(schema: pa.Schema) -> dict[str, str]:
    return {f.name: str(f.type) for f in schema}


def _fingerprint_path(path: Path, name: str | None) -> DatasetInfo:
    if not path.exists():
        raise file_not_found(path, "file or directory")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        h = hashlib.sha256()
        for f in files:
            h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
        digest = h.hexdigest()
    else:
        digest = sha256_file(path)
    schema, rows = _describe(path)
    return DatasetInfo(name=name or path.stem, digest=digest, schema=schema, rows=rows,
                       uri=str(path.absolute()))


def _describe(path: Path) -> tuple[dict[str, str], int]:
    """Schema and row count read lazily (no full load); a file or folder that is not a table
    (a model, an unknown format) gives ({}, -1)."""
    if table_format(path) is None:
        return {}, -1
    import polars as pl

    lf = scan_table(path)
    with reading(path):
        schema = lf.collect_schema()
        rows = int(lf.select(pl.len()).collect(engine="streaming").item())
    return {k: str(v) for k, v in schema.items()}, rows
