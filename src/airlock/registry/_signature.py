"""Model signatures: input columns with Arrow types, inferred from an example, and enforced.

At predict time the input is conformed to the signature: extra columns are dropped, missing
ones are an error naming them (unless the column is ``"optional": true``: then it is all
nulls), and each column is cast safely to its recorded type (a value that does not fit, like
"abc" for an int64 column, is an error naming the column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import InvalidInput

__all__ = ["MISSING_VALUE", "conform", "conform_rows", "infer_signature"]

#: A null (or NaN) in a column whose signature says it never has one: the server's 422 and a
#: batch job's reject reason.
MISSING_VALUE = ("input column {name!r} of {ref} has a missing value (null or NaN), which its "
                 "signature does not allow")


def _field(f: pa.Field) -> dict[str, Any]:
    return {"name": f.name, "type": str(f.type), "nullable": True}


def infer_signature(example: pa.Table, outputs: pa.Table | None = None) -> dict[str, Any]:
    sig: dict[str, Any] = {"inputs": [_field(f) for f in example.schema]}
    if example.num_rows:
        sig["inputs"] = [
            {**_field(f), "nullable": example.column(f.name).null_count > 0}
            for f in example.schema
        ]
    if outputs is not None:
        sig["outputs"] = [{"name": f.name, "type": str(f.type)} for f in outputs.schema]
    return sig


def _arrow_type(name: str) -> pa.DataType:
    aliases = {"string": pa.string(), "large_string": pa.large_string(),
               "bool": pa.bool_(), "double": pa.float64(), "float": pa.float32()}
    if name in aliases:
        return aliases[name]
    try:
        return pa.type_for_alias(name)
    except ValueError:
        return pa.string()


def conform(table: pa.Table, signature: dict[str, Any], ref: str) -> pa.Table:
    """Select and cast ``table``'s columns to the signature's inputs."""
    inputs = signature.get("inputs") or []
    if not inputs:
        return table
    names = [c["name"] for c in inputs]
    missing = [c["name"] for c in inputs
               if c["name"] not in table.column_names and not c.get("optional")]
    if missing:
        raise InvalidInput(
            f"missing input column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} for {ref}"
        )
    cols = []
    for spec in inputs:
        if spec["name"] not in table.column_names:  # an optional column, not sent
            want = _arrow_type(spec.get("type") or "string")
            cols.append(pa.chunked_array([pa.nulls(table.num_rows, want)]))
            continue
        col = table.column(spec["name"])
        if spec.get("type") is not None:  # None: names known, types not (no input example)
            want = _arrow_type(spec["type"])
            if not col.type.equals(want):
                col = _cast(col, want, spec["name"], ref)
        cols.append(col)
    return pa.table(cols, names=names)


def _text_mismatch(have: pa.DataType, want: pa.DataType) -> bool:
    """Text wanted, something else given: a fault of the column's type, not of a value."""
    want_text = pa.types.is_string(want) or pa.types.is_large_string(want)
    is_text = (pa.types.is_string(have) or pa.types.is_large_string(have)
               or pa.types.is_dictionary(have))
    return want_text and not is_text


def _cast(col: pa.ChunkedArray, want: pa.DataType, name: str, ref: str) -> pa.ChunkedArray:
    if pa.types.is_null(col.type):
        return pa.chunked_array([pa.nulls(len(col), want)])
    if _text_mismatch(col.type, want):
        raise InvalidInput(f"input column {name!r} of {ref} must be text, got {col.type}")
    try:
        return col.cast(want, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"input column {name!r} of {ref} must be {want}, got {col.type} "
            f"({str(exc).splitlines()[0]})"
        ) from exc


def conform_rows(table: pa.Table, signature: dict[str, Any],
                 ref: str) -> tuple[pa.Table, pa.Array | None]:
    """:func:`conform`, row by row (batch scoring): the rows that conform, selected and cast
    to the signature, and why each other row does not, as a string per input row (null where
    the row conforms; ``None`` when every row does). A reason is the message :func:`conform`
    raises for that row alone, or :data:`MISSING_VALUE`; a missing column rejects every row.

    Vectorised: a table whose columns all cast is one :func:`conform` call and one null
    check; only a cast that fails looks for its rows (by halving, with Arrow's own cast)."""
    inputs = signature.get("inputs") or []
    if not inputs:
        return table, None
    n = table.num_rows
    reasons: dict[int, str] = {}
    try:
        conformed = conform(table, signature, ref)
        survivors = np.arange(n, dtype=np.int64)
    except InvalidInput as exc:
        if any(spec["name"] not in table.column_names and not spec.get("optional")
               for spec in inputs):
            return table.slice(0, 0), pa.array([exc.message] * n, pa.string())
        for spec in inputs:
            if spec["name"] in table.column_names:
                _bad_casts(table.column(spec["name"]), spec, ref, reasons)
        ok = np.ones(n, dtype=bool)
        ok[list(reasons)] = False
        survivors = np.flatnonzero(ok).astype(np.int64)
        if survivors.size == 0:
            return table.slice(0, 0), _reasons(n, reasons)
        conformed = conform(table.take(pa.array(survivors)), signature, ref)
    missing = np.zeros(conformed.num_rows, dtype=bool)
    for spec in inputs:
        col = conformed.column(spec["name"])
        if spec.get("nullable", True) or (col.null_count == 0
                                          and not pa.types.is_floating(col.type)):
            continue
        rows = np.asarray(pc.is_null(col, nan_is_null=True), dtype=bool) & ~missing
        text = MISSING_VALUE.format(name=spec["name"], ref=ref)
        for i in survivors[rows].tolist():
            reasons[i] = text
        missing |= rows
    if not reasons:
        return conformed, None
    if missing.any():
        conformed = conformed.filter(pa.array(~missing))
    return conformed, _reasons(n, reasons)


def _reasons(n: int, reasons: dict[int, str]) -> pa.Array:
    out: list[str | None] = [None] * n
    for i, text in reasons.items():
        out[i] = text
    return pa.array(out, pa.string())


def _bad_casts(col: pa.ChunkedArray, spec: dict[str, Any], ref: str,
               reasons: dict[int, str]) -> None:
    """Record (the first reason of a row wins) the rows of ``col`` that do not cast to the
    type of ``spec``."""
    if spec.get("type") is None:
        return
    want = _arrow_type(spec["type"])
    if col.type.equals(want):
        return
    name = spec["name"]
    try:
        _cast(col, want, name, ref)
        return
    except InvalidInput as exc:
        if _text_mismatch(col.type, want) or isinstance(exc.__cause__,
                                                        pa.ArrowNotImplementedError):
            # a fault of the column's type, so of every row
            for i in range(len(col)):
                reasons.setdefault(i, exc.message)
            return
    _halve(col.combine_chunks(), 0, want, name, ref, reasons)


def _halve(arr: pa.Array, offset: int, want: pa.DataType, name: str, ref: str,
           reasons: dict[int, str]) -> None:
    try:
        _cast(pa.chunked_array([arr], type=arr.type), want, name, ref)
    except InvalidInput as exc:
        if len(arr) == 1:
            reasons.setdefault(offset, exc.message)
            return
        half = len(arr) // 2
        _halve(arr.slice(0, half), offset, want, name, ref, reasons)
        _halve(arr.slice(half), offset + half, want, name, ref, reasons)
