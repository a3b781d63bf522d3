"""PII redaction of the ``inputs`` struct before anything reaches disk."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import UsageError

__all__ = ["REDACTED", "RedactMode", "Redactor"]

RedactMode = Literal["hash", "mask", "drop"]
_STR = pa.string()
REDACTED = b"airlock.redacted"
"""Field metadata of a redacted field (``hash`` or ``mask``); on the ``inputs`` column itself,
the comma-separated names of the dropped fields. Readers (drift) skip what it names."""


class Redactor:
    """Redacts PII-tagged fields of the ``inputs`` struct before anything reaches disk.

    ``hash``: the first 16 hex digits of sha256(salt + value) (values cast to text; hashed
    once per distinct value), ``mask``: ``"***"``, ``drop``: the field is removed. Nulls stay
    null. Fields not present in a table are ignored (versions differ in their inputs)."""

    def __init__(self, columns: Mapping[str, RedactMode], *, salt: str = "") -> None:
        for name, mode in columns.items():
            if mode not in ("hash", "mask", "drop"):
                raise UsageError(f"unknown redaction {mode!r} for column {name!r}; use hash, "
                                 "mask or drop")
        if "hash" in columns.values() and not salt:
            raise UsageError("hashing PII needs a secret salt (Redactor(..., salt=...)): "
                             "unsalted hashes of guessable values are easily reversed")
        self.columns = dict(columns)
        self.salt = salt

    def check(self, schema: pa.Schema, column: str = "inputs") -> None:
        """Raise UsageError when a field to hash cannot be turned into text."""
        idx = schema.get_field_index(column)
        if idx < 0 or not pa.types.is_struct(schema.field(idx).type):
            return
        for f in schema.field(idx).type:
            if self.columns.get(f.name) == "hash" and pa.types.is_nested(f.type):
                raise UsageError(f"cannot hash input {f.name!r} of type {f.type}: only scalar "
                                 "columns can be hashed; use mask or drop")

    def hash(self, values: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        raw = pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
        if not raw and not pa.types.is_string(values.type):
            values = pc.cast(values, _STR)
        encoded = pc.dictionary_encode(values)
        salt = self.salt.encode()
        digests = [hashlib.sha256(salt + (v if raw else v.encode())).hexdigest()[:16]
                   for v in encoded.dictionary.to_pylist()]
        return pa.array(digests, _STR).take(encoded.indices)

    @staticmethod
    def mask(values: pa.Array) -> pa.Array:
        return pc.if_else(pc.is_valid(values), pa.scalar("***"), pa.scalar(None, _STR))

    def apply(self, table: pa.Table, column: str = "inputs") -> pa.Table:
        idx = table.schema.get_field_index(column)
        if idx < 0 or not pa.types.is_struct(table.schema.field(idx).type):
            return table
        if not any(f.name in self.columns for f in table.schema.field(idx).type):
            return table
        arr = table.column(idx).combine_chunks()
        fields, children, dropped = [], [], []
        for i, f in enumerate(arr.type):
            mode, child = self.columns.get(f.name), arr.field(i)
            if mode == "drop":
                dropped.append(f.name)
                continue
            if mode is not None:
                child = self.hash(child) if mode == "hash" else self.mask(child)
                f = pa.field(f.name, _STR, metadata={REDACTED: mode.encode()})
            fields.append(f)
            children.append(child)
        if not fields:
            new = pa.nulls(len(arr))
        else:
            mask = arr.is_null() if arr.null_count else None
            new = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        meta = {REDACTED: ",".join(dropped).encode()} if dropped else None
        return table.set_column(idx, pa.field(column, new.type, metadata=meta), new)

