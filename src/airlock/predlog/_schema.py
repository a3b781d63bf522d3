"""The log's record schema: streams, their columns, the timestamp type, name rules."""

from __future__ import annotations

import re

import pyarrow as pa

from airlock.errors import InvalidInput, UsageError

__all__ = ["COLUMNS", "FEEDBACK", "PREDICTIONS", "TS_TYPE", "check_log_schema", "check_name"]

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
TS_TYPE = pa.timestamp("ms", tz="UTC")

COLUMNS = {
    PREDICTIONS: ("request_id", "row", "ts", "endpoint", "route", "model", "version", "status",
                  "latency_ms", "error_code", "error", "inputs", "outputs", "shadow_version",
                  "shadow_outputs"),
    FEEDBACK: ("request_id", "ts", "label", "label_json"),
}
"""The columns of each stream, in order. A prediction row's ``status`` is the HTTP status the
request was answered with; ``error_code`` (the error's class, e.g. ``ModelUnavailable``) and
``error`` (its one-line message) are null when it was answered 200. ``inputs`` is null when
the request was rejected before its rows could be parsed, ``outputs`` when no model answered.
Segments written before ``error_code``/``error`` existed read back with them null."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_name(kind: str, value: object) -> str:
    """An endpoint or stream name becomes a path component: keep it to a safe alphabet."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value.strip(".") == "":
        raise UsageError(f"invalid {kind} name {value!r}: use letters, digits, '.', '_' and "
                         "'-' (at most 128, starting with a letter or digit)")
    return value


def _empty_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_empty_struct(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _empty_struct(t.value_type)
    return False


def check_log_schema(schema: pa.Schema) -> None:
    """Rows the files can hold: a ``ts`` to name segments by, no field-less struct (Parquet
    cannot store one)."""
    idx = schema.get_field_index("ts")
    if idx < 0 or schema.field(idx).type != TS_TYPE:
        raise InvalidInput(f"log rows need a 'ts' column of type {TS_TYPE}; build them with "
                           "make_records or make_feedback")
    for f in schema:
        if _empty_struct(f.type):
            raise InvalidInput(f"column {f.name!r} is a struct without fields, which Parquet "
                               "cannot store; use a null column instead")

