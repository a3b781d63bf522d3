"""SQL sources: a table or query behind any SQLAlchemy URL, streamed in batches into a
temporary Parquet file that the lazy validator then scans, so memory stays bounded however
large the result is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airlock.errors import InvalidInput, UsageError

__all__ = ["is_sql_url", "sql_to_parquet"]

BATCH_ROWS = 50_000
_URL = re.compile(r"^[a-z][a-z0-9+]*://", re.I)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_FILE_SCHEMES = ("file", "s3", "gs", "gcs", "az", "abfs", "http", "https")


def is_sql_url(text: str) -> bool:
    """True for ``postgresql+psycopg://…``, ``sqlite:///…`` and other database URLs."""
    if not _URL.match(text):
        return False
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower()
    return scheme not in _FILE_SCHEMES


def _query(table: str | None, query: str | None) -> str:
    if (table is None) == (query is None):
        raise UsageError("a SQL source needs exactly one of --table or --query")
    if table is not None:
        if not _IDENT.match(table):
            raise UsageError(f"invalid table name {table!r}: use NAME or SCHEMA.NAME")
        return f"SELECT * FROM {table}"
    assert query is not None
    return query


def sql_to_parquet(url: str, dest: Path, *, table: str | None = None,
                   query: str | None = None) -> int:
    """Stream the rows of ``table`` or ``query`` into the Parquet file ``dest``; returns
    the row count. Column types come from the first batch (as Arrow infers them)."""
    import sqlalchemy as sa

    sql = _query(table, query)
    engine = sa.create_engine(url)
    rows, writer = 0, None
    try:
        if engine.dialect.paramstyle in ("format", "pyformat"):
            sql = sql.replace("%", "%%")  # no parameters: a '%' in the query is literal
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS) \
                .exec_driver_sql(sql)
            names = list(result.keys())
            for part in result.partitions(BATCH_ROWS):
                batch = _batch(names, part, None if writer is None else writer.schema)
                if writer is None:
                    writer = pq.ParquetWriter(dest, batch.schema)
                writer.write_table(batch)
                rows += batch.num_rows
            if writer is None:  # no rows: still a valid (empty) file with the columns
                writer = pq.ParquetWriter(dest, pa.schema([(n, pa.string()) for n in names]))
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InvalidInput(f"cannot read from the database: {first}") from exc
    finally:
        if writer is not None:
            writer.close()
        engine.dispose()
    return rows


def _batch(names: list[str], rows: Any, schema: pa.Schema | None) -> pa.Table:
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [
        [] for _ in names]
    table = pa.table(dict(zip(names, columns, strict=True)))
    if schema is not None and not table.schema.equals(schema):
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(f"a later batch does not fit the first one's types: {exc}") \
                from exc
    return table
