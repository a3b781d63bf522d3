"""Evaluation data: read only the needed columns, and turn columns into group codes whose
labels are in their natural order (numeric ranges by their bounds, then text)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock._files import read_table as read_file
from airlock.data import to_arrow
from airlock.errors import InvalidInput, UsageError

__all__ = ["NULL_LABEL", "group_codes", "natural_key", "natural_order", "read_table",
           "require_columns"]

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
    """Integer codes 0..G-1 and their labels (nulls labelled '<null>'), labels in their
    natural order (:func:`natural_order`; an ordered categorical keeps its categories'
    order). One hash pass over the rows (Arrow's dictionary encoding); the labels are
    made from the distinct values only."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(arr, pa.ChunkedArray):  # no chunks at all
        arr = pa.array([], arr.type)
    ordered = pa.types.is_dictionary(arr.type) and bool(arr.type.ordered)
    if not pa.types.is_dictionary(arr.type):
        try:
            arr = pc.dictionary_encode(arr)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid):
            return _group_codes_by_text(arr)
    n_entries = len(arr.dictionary)
    index = np.asarray(pc.fill_null(arr.indices.cast(pa.int64()), n_entries)
                       .to_numpy(zero_copy_only=False), dtype=np.int64)
    texts = [*_texts(arr.dictionary), NULL_LABEL]  # the last entry: null indices
    used = np.bincount(index, minlength=n_entries + 1) > 0
    present = list(dict.fromkeys(texts[i] for i in np.flatnonzero(used)))
    labels = present if ordered else natural_order(present)
    if ordered and NULL_LABEL in labels:
        labels = [v for v in labels if v != NULL_LABEL] + [NULL_LABEL]
    code_of = {label: code for code, label in enumerate(labels)}
    lookup = np.array([code_of.get(t, -1) for t in texts], dtype=np.int64)
    return lookup[index], labels


def _texts(values: pa.Array) -> list[str]:
    """Distinct values as labels (polars' text of each value; nulls '<null>')."""
    import polars as pl

    s = pl.Series(values=values).cast(pl.String).fill_null(NULL_LABEL)
    return [str(v) for v in s.to_list()]


def _group_codes_by_text(column: pa.Array) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Types Arrow cannot dictionary-encode: through their text, row by row in polars."""
    import polars as pl

    try:
        s = pl.Series(values=column).cast(pl.String).fill_null(NULL_LABEL)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        raise InvalidInput(f"a column of type {column.type} cannot be sliced or grouped: "
                           "use a column of text, numbers, dates or booleans") from None
    labels = natural_order([str(v) for v in s.unique().to_list()])
    lookup = pl.DataFrame({"v": labels, "code": np.arange(len(labels), dtype=np.int64)})
    codes = (pl.DataFrame({"v": s}).join(lookup, on="v", how="left", maintain_order="left")
             ["code"].to_numpy())
    return codes.astype(np.int64), labels


# -- natural order ---------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INF = r"[-+]?inf(?:inity)?"
_RANGES = [  # (pattern, which groups give (low, high); None: unbounded on that side)
    (re.compile(rf"^({_NUM})$"), (1, 1)),
    (re.compile(rf"^(?:<=?|≤|under|below|less than|up to)\s*({_NUM})$", re.I), (None, 1)),
    (re.compile(rf"^(?:>=?|≥|over|above|more than)\s*({_NUM})$", re.I), (1, None)),
    (re.compile(rf"^({_NUM})\s*(?:\+|or more|and over|and above)$", re.I), (1, None)),
    (re.compile(rf"^({_NUM})\s*(?:-|\u2013|\u2014|to|\.\.\.?)\s*({_NUM})$", re.I), (1, 2)),
    (re.compile(rf"^[\[(]\s*({_NUM}|{_INF})\s*,\s*({_NUM}|{_INF})\s*[\])]$", re.I), (1, 2)),
]


def _bounds(label: str) -> tuple[float, float] | None:
    """(low, high) of a number or a numeric range written as ``<40``, ``40-55``, ``55+``,
    ``(40, 55]``; None for any other label."""
    text = label.strip()
    for pattern, (lo, hi) in _RANGES:
        m = pattern.match(text)
        if m is None:
            continue
        low = -math.inf if lo is None else float(m.group(lo))
        high = math.inf if hi is None else float(m.group(hi))
        if math.isnan(low) or math.isnan(high):
            return None
        return low, high
    return None


def _text_key(label: str) -> list[Any]:
    """Text with its digit runs compared as numbers (``item 2`` before ``item 10``)."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(label)]


_DIGITS = re.compile(r"(\d+)")


def natural_key(label: str) -> tuple[Any, ...]:
    """The sort key of a slice or group label: numbers and numeric ranges by their lower
    then upper bound (``<40``, ``40-55``, ``55+``), then other labels alphabetically (digit
    runs as numbers), the null label last."""
    if label == NULL_LABEL:
        return (2,)
    bounds = _bounds(label)
    if bounds is not None:
        return (0, *bounds, label)
    return (1, _text_key(label), label)


def natural_order(labels: Iterable[str]) -> list[str]:
    """``labels`` sorted by :func:`natural_key`."""
    return sorted(labels, key=natural_key)
