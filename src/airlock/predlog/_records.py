"""Log records: the rows of one request (or a micro-batch of them), and delayed labels.

The server turns each answered request into Arrow rows (:func:`make_records`, or
:func:`make_batch_records` for a micro-batch) and appends them to a
:class:`~airlock.predlog.PredictionLog`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput, UsageError

from ._schema import COLUMNS, PREDICTIONS, TS_TYPE

__all__ = ["make_batch_records", "make_feedback", "make_records"]

_STR, _I32, _I16, _F32 = pa.string(), pa.int32(), pa.int16(), pa.float32()
_NAMES = list(COLUMNS[PREDICTIONS])


# the per-request fields, converted from Python in one call (one pa.array per field costs 5x)
_META = pa.struct([("request_id", _STR), ("row", _I32), ("ts", TS_TYPE), ("endpoint", _STR),
                   ("route", _STR), ("model", _STR), ("version", _I32), ("status", _I16),
                   ("latency_ms", _F32), ("error_code", _STR), ("error", _STR)])
_Meta = tuple[str, int, int, str, str, str, int | None, int, float, str | None, str | None]
MAX_ERROR_CHARS = 1000


def _struct(table: pa.Table | None, what: str) -> pa.Array:
    if table is None:  # not parsed (inputs) or not answered (outputs): one null row
        return pa.nulls(1)
    if not isinstance(table, pa.Table):
        raise InvalidInput(f"{what} must be a pyarrow.Table, got {type(table).__name__}")
    if table.num_columns == 0:
        return pa.nulls(table.num_rows)
    batches = table.to_batches()
    if len(batches) != 1:
        batches = table.combine_chunks().to_batches()
    if not batches:  # no rows and no chunks
        return pa.array([], pa.struct(list(table.schema)))
    return batches[0].to_struct_array()


def _shadow(n: int, shadow_version: int | None,
            shadow_outputs: pa.Table | None) -> tuple[pa.Array, pa.Array]:
    if shadow_outputs is None:
        if shadow_version is not None:
            raise UsageError("shadow_version is set but shadow_outputs is missing")
        return pa.nulls(n, _I32), pa.nulls(n)
    if not isinstance(shadow_version, int):
        raise InvalidInput("shadow_outputs needs shadow_version, the shadow model's version")
    out = _struct(shadow_outputs, "shadow_outputs")
    if len(out) != n:
        raise InvalidInput(f"shadow_outputs has {len(out)} rows, inputs has {n}")
    return pa.array(np.full(n, shadow_version, np.int32)), out


def _meta_array(rows: list[_Meta]) -> pa.StructArray:
    try:
        return pa.array(rows, _META)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        pass
    for i, f in enumerate(_META):  # slow path, only to name the culprit
        for row in rows:
            try:
                pa.array([row[i]], f.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
                raise InvalidInput(f"log field {f.name}={row[i]!r:.40} is not a valid "
                                   f"{f.type}: {exc}") from None
    raise InvalidInput("log fields could not be converted")  # pragma: no cover


def _records(meta: list[_Meta], counts: np.ndarray | None, inputs: pa.Table | None,
             outputs: pa.Table | None, shadow_version: int | None,
             shadow_outputs: pa.Table | None) -> pa.Table:
    ins = _struct(inputs, "inputs")
    n = len(ins)
    outs = pa.nulls(n) if outputs is None else _struct(outputs, "outputs")
    if len(outs) != n:
        raise InvalidInput(f"outputs has {len(outs)} rows, inputs has {n}")
    sv, so = _shadow(n, shadow_version, shadow_outputs)
    arr = _meta_array(meta)
    if counts is None:  # one request owns every row
        if n != 1:
            arr = arr.take(np.zeros(n, np.int32))
        row = np.arange(n, dtype=np.int32)
    else:
        arr = arr.take(np.repeat(np.arange(len(counts), dtype=np.int32), counts))
        row = (np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32)
    cols = arr.flatten()
    if n != 1 or counts is not None:
        cols[1] = pa.array(row)
    return pa.Table.from_arrays([*cols, ins, outs, sv, so], names=_NAMES)


def make_records(*, request_id: str, ts_ms: int, endpoint: str, route: str, model: str,
                 version: int | None, status: int, latency_ms: float,
                 inputs: pa.Table | None, outputs: pa.Table | None,
                 shadow_version: int | None = None, shadow_outputs: pa.Table | None = None,
                 error_code: str | None = None, error: str | None = None) -> pa.Table:
    """The log rows of one request: one per input row (``row`` is its index), with the
    request's ``inputs``/``outputs`` tables as structs. ``ts_ms``: ms since the epoch, UTC.

    A request answered with an error gives its ``status``, ``error_code`` and ``error`` (cut
    to 1,000 characters); ``inputs=None`` when its rows could not be parsed (one row, null
    inputs), ``outputs=None`` when no model answered, ``version=None`` when none was chosen."""
    if error is not None and len(error) > MAX_ERROR_CHARS:
        error = error[:MAX_ERROR_CHARS - 1] + "…"
    meta = [(request_id, 0, ts_ms, endpoint, route, model, version, status, latency_ms,
             error_code, error)]
    return _records(meta, None, inputs, outputs, shadow_version, shadow_outputs)


def make_batch_records(*, request_ids: Sequence[str], row_counts: Sequence[int],
                       ts_ms: Sequence[int], latency_ms: Sequence[float],
                       status: int | Sequence[int], endpoint: str, route: str, model: str,
                       version: int, inputs: pa.Table, outputs: pa.Table,
                       shadow_version: int | None = None,
                       shadow_outputs: pa.Table | None = None) -> pa.Table:
    """The log rows of a micro-batch in one call: ``inputs``/``outputs`` hold the requests'
    rows one after the other, request ``i`` owning the next ``row_counts[i]`` of them.
    Append the result once per batch; it costs a fraction of one make_records per request."""
    counts = np.asarray(row_counts, dtype=np.int64)
    k = len(counts)
    statuses = [status] * k if isinstance(status, int) else list(status)
    for name, size in (("request_ids", len(request_ids)), ("ts_ms", len(ts_ms)),
                       ("latency_ms", len(latency_ms)), ("status", len(statuses))):
        if size != k:
            raise InvalidInput(f"{name} has {size} entries, row_counts has {k}")
    total = int(counts.sum())
    if (k and int(counts.min()) < 0) or total != inputs.num_rows:
        raise InvalidInput(f"row_counts add up to {total}, inputs has {inputs.num_rows} rows")
    meta: list[_Meta] = [
        (r, 0, t, endpoint, route, model, version, s, lat, None, None)
        for r, t, s, lat in zip(request_ids, ts_ms, statuses, latency_ms, strict=True)]
    return _records(meta, counts, inputs, outputs, shadow_version, shadow_outputs)


def _json_label(i: int, value: Any) -> tuple[str, float | None]:
    if isinstance(value, np.generic):
        value = value.item()
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"feedback label {i} ({value!r:.40}) is not JSON: {exc}") from None
    number = float(value) if isinstance(value, int | float) else None
    return text, number


def make_feedback(request_id: Sequence[str], label: Sequence[Any],
                  ts_ms: int | Sequence[int]) -> pa.Table:
    """Delayed labels as log rows: ``request_id``, ``ts``, ``label`` (float64 when numeric,
    booleans as 0/1, else null) and ``label_json`` (any JSON value)."""
    n = len(request_id)
    if len(label) != n:
        raise InvalidInput(f"label has {len(label)} entries, request_id has {n}")
    bad = next((i for i, r in enumerate(request_id) if not isinstance(r, str) or not r), None)
    if bad is not None:
        raise InvalidInput(f"request_id {bad} must be a non-empty string, got "
                           f"{request_id[bad]!r:.40}")
    times = [ts_ms] * n if isinstance(ts_ms, int) else list(ts_ms)
    if len(times) != n:
        raise InvalidInput(f"ts_ms has {len(times)} entries, request_id has {n}")
    pairs = [_json_label(i, v) for i, v in enumerate(label)]
    return pa.table({
        "request_id": pa.array(request_id, _STR), "ts": pa.array(times, TS_TYPE),
        "label": pa.array([p[1] for p in pairs], pa.float64()),
        "label_json": pa.array([p[0] for p in pairs], _STR),
    })

