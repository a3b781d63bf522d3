"""Model signatures: input columns with Arrow types, inferred from an example, and enforced.

At predict time the input is conformed to the signature: extra columns are dropped, missing
ones are an error naming them, and each column is cast safely to its recorded type (a value
that does not fit, like "abc" for an int64 column, is an error naming the column).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from airlock.errors import InvalidInput

__all__ = ["conform", "infer_signature"]


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
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise InvalidInput(
            f"missing input column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} for {ref}"
        )
    cols = []
    for spec in inputs:
        col = table.column(spec["name"])
        if spec.get("type") is not None:  # None: names known, types not (no input example)
            want = _arrow_type(spec["type"])
            if not col.type.equals(want):
                col = _cast(col, want, spec["name"], ref)
        cols.append(col)
    return pa.table(cols, names=names)


def _cast(col: pa.ChunkedArray, want: pa.DataType, name: str, ref: str) -> pa.ChunkedArray:
    if pa.types.is_null(col.type):
        return pa.chunked_array([pa.nulls(len(col), want)])
    want_text = pa.types.is_string(want) or pa.types.is_large_string(want)
    is_text = (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
               or pa.types.is_dictionary(col.type))
    if want_text and not is_text:
        raise InvalidInput(f"input column {name!r} of {ref} must be text, got {col.type}")
    try:
        return col.cast(want, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInput(
            f"input column {name!r} of {ref} must be {want}, got {col.type} "
            f"({str(exc).splitlines()[0]})"
        ) from exc
