"""A request's rows between the decoder and the model, and how a batch of them becomes one table.

Decoders hand over plain columns (Python lists or numpy arrays, keyed by name) rather than an
Arrow table: a batch of requests with the same columns is converted, cast and checked once
(:func:`merge`), which is most of the per-request cost saved. When that shared conversion
fails, each request is converted alone (:func:`to_table`) so the error names the request's
own bad column and the other requests in the batch are still answered.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput

__all__ = ["Columns", "Pending", "merge", "new_request_id", "to_table"]

Columns = dict[str, Any]  # name → list or 1-D numpy array, all of one length

_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes and restarts (random prefix per process) and cheap."""
    return f"{_PREFIX}-{next(_COUNTER):x}"


@dataclass
class Pending:
    """One request waiting for a model."""

    data: Columns | pa.Table
    rows: int
    request_id: str
    ts_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    started: float = field(default_factory=time.perf_counter)
    log: bool = True  # sampled for the prediction log
    # the roles whose answer was given up on (timeout) and whose answer is being logged,
    # changed only under that role's slot lock (see ModelSlot.abandon)
    abandoned: tuple[str, ...] = ()
    answered: tuple[str, ...] = ()

    def column_value(self, name: str) -> Any:
        """The first row's value of ``name`` (for a sticky routing field), or None."""
        if isinstance(self.data, pa.Table):
            if name not in self.data.column_names or not self.data.num_rows:
                return None
            return self.data.column(name)[0].as_py()
        values = self.data.get(name)
        return None if values is None or not len(values) else values[0]

    def table(self) -> pa.Table:
        return self.data if isinstance(self.data, pa.Table) else to_table(self.data)


def to_table(columns: Columns, where: str = "input") -> pa.Table:
    """One request's columns as Arrow; a column that cannot be one is named."""
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = _array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
            raise InvalidInput(f"{where} column {name!r} mixes values of different types")\
                from None
        if pa.types.is_nested(arrays[name].type):
            raise InvalidInput(f"{where} column {name!r} holds lists or objects, expected "
                               "scalars")
    if not arrays:
        raise InvalidInput(f"{where} has no columns")
    return pa.table(arrays)


def _array(values: Any) -> pa.Array:
    if isinstance(values, np.ndarray):
        if values.dtype == object:
            return pa.array(values.tolist(), type=pa.string())
        if values.dtype == np.float16:
            values = values.astype(np.float32)
    return pa.array(values)


def merge(items: Sequence[Pending]) -> pa.Table:
    """Every request's rows in one table (fast path). Raises when the requests do not share
    their columns or a column does not convert; the caller then converts them one by one."""
    first = items[0].data
    if len(items) == 1:
        return first if isinstance(first, pa.Table) else to_table(first)
    if isinstance(first, pa.Table):
        return pa.concat_tables([i.data for i in items])
    names = list(first)
    merged: dict[str, Any] = {}
    for name in names:
        parts = [i.data[name] for i in items]
        if all(isinstance(p, list) for p in parts):
            merged[name] = list(itertools.chain.from_iterable(parts))
        elif all(isinstance(p, np.ndarray) and p.dtype == parts[0].dtype for p in parts):
            merged[name] = np.concatenate(parts)
        else:
            raise ValueError("requests carry this column in different forms")
    if any(list(i.data) != names for i in items[1:]):
        raise ValueError("requests have different columns")
    table = pa.table({n: _array(v) for n, v in merged.items()})
    if any(pa.types.is_nested(t) for t in table.schema.types):
        raise ValueError("a column holds nested values")
    return table
