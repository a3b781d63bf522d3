"""Tables at the boundary: any table (pandas, polars, pyarrow) as frames for the
accumulator, its columns checked first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from airlock.errors import InvalidInput

from ._aggregate import TS, UNIT, VARIANT
from ._config import ExperimentConfig

__all__ = ["MSG_COLUMN", "MSG_COVARIATE", "MSG_VARIANT", "bucket_for", "table_frames"]

MSG_VARIANT = "the variant column {name!r} is not in the table; columns: {columns}"
MSG_COLUMN = "metric {metric} reads column {column!r}, which the table does not have; " \
             "columns: {columns}"
MSG_COVARIATE = "covariate {name!r} is not a column of the table; columns: {columns}"
MSG_UNIT = "the unit column {name!r} is not in the table; columns: {columns}"
CHUNK_ROWS = 1_000_000
_BUCKETS = 48


def _names(cols: list[str]) -> str:
    shown = ", ".join(cols[:20])
    return shown + (f" … ({len(cols)} in all)" if len(cols) > 20 else "")


def bucket_for(lo_ms: int, hi_ms: int) -> int:
    """The width (ms) of the report's time buckets: about 48 over the window, whole
    minutes."""
    span = max(hi_ms - lo_ms, 1)
    return max(60_000, -(-span // _BUCKETS) // 60_000 * 60_000)


def _frame(table: Any) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    from airlock.data import to_arrow

    out = pl.from_arrow(to_arrow(table))
    if not isinstance(out, pl.DataFrame):  # a single column comes back as a Series
        out = out.to_frame()
    return out


def table_frames(table: Any, config: ExperimentConfig) -> tuple[Iterator[pl.DataFrame],
                                                                int, int | None]:
    """Frames of ``table`` renamed for the accumulator, the time origin and the bucket width
    (None without ``time_column``). InvalidInput names a missing column."""
    df = _frame(table)
    cols = df.columns
    if config.variant not in cols:
        raise InvalidInput(MSG_VARIANT.format(name=config.variant, columns=_names(cols)))
    for m in config.specs():
        for col in m.columns:
            if col not in cols:
                raise InvalidInput(MSG_COLUMN.format(metric=m.name, column=col,
                                                     columns=_names(cols)))
    if config.covariate is not None and config.covariate not in cols:
        raise InvalidInput(MSG_COVARIATE.format(name=config.covariate, columns=_names(cols)))
    if config.unit is not None and config.unit not in cols:
        raise InvalidInput(MSG_UNIT.format(name=config.unit, columns=_names(cols)))
    extra = [pl.col(config.variant).cast(pl.String).alias(VARIANT)]
    if config.unit is not None:
        extra.append(pl.col(config.unit).cast(pl.String).alias(UNIT))
    origin, bucket = 0, None
    if config.time_column is not None:
        if config.time_column not in cols:
            raise InvalidInput(MSG_COLUMN.format(metric="time_column",
                                                 column=config.time_column,
                                                 columns=_names(cols)))
        t = df[config.time_column]
        ms = (t.dt.epoch("ms") if t.dtype.is_temporal() else t.cast(pl.Int64)).alias(TS)
        df = df.with_columns(ms)
        lo, hi = ms.min(), ms.max()
        if isinstance(lo, int) and isinstance(hi, int):
            origin, bucket = lo, bucket_for(lo, hi)
    df = df.with_columns(extra)

    def chunks() -> Iterator[pl.DataFrame]:
        for start in range(0, max(df.height, 1), CHUNK_ROWS):
            yield df.slice(start, CHUNK_ROWS)

    return chunks(), origin, bucket
