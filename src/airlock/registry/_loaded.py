"""A loaded model version: one ``predict(table) -> table`` interface for every flavor."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from airlock.data import from_arrow, table_kind, to_arrow
from airlock.errors import InvalidInput
from airlock.store import VersionRecord

from ._signature import conform
from .flavors import Predictor

__all__ = ["LoadedModel"]

#: below this many cells Arrow converts to pandas on the calling thread: its thread pool costs
#: more than it saves on a served micro-batch (16 rows x 30 columns: 230 us with it, 110 without)
THREADED_CELLS = 1 << 16


class LoadedModel:
    """What ``airlock.load_model`` returns. Serving and batch scoring only use ``predict``."""

    def __init__(self, version: VersionRecord, predictor: Predictor) -> None:
        self.version = version
        self.predictor = predictor
        self.ref = version.ref
        self.signature: dict[str, Any] = version.manifest.get("signature", {})

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref!r}, flavor={self.version.flavor!r})"

    @property
    def input_columns(self) -> list[str]:
        return [c["name"] for c in self.signature.get("inputs", [])]

    def predict(self, table: Any) -> Any:
        """Score a table (pandas, polars, Arrow, numpy, dict of columns or records).

        Returns the same kind of table (numpy and Python input get polars) with the model's
        output columns, e.g. ``prediction`` and ``proba_<class>`` for a classifier."""
        kind = table_kind(table)
        cols = self.input_columns if kind == "numpy" else None
        return from_arrow(self.predict_arrow(to_arrow(table, columns=cols or None)), kind)

    def predict_arrow(self, table: pa.Table) -> pa.Table:
        return self.predict_conformed(self.conform(table))

    def conform(self, table: pa.Table) -> pa.Table:
        """The table's columns selected and cast to the signature (an error names the column)."""
        return conform(table, self.signature, self.ref)

    def predict_conformed(self, conformed: pa.Table) -> pa.Table:
        """Score a table that :meth:`conform` returned (the server batches conformed tables)."""
        table = conformed
        try:
            cells = conformed.num_rows * conformed.num_columns
            outputs = self.predictor.predict(
                conformed.to_pandas(use_threads=cells >= THREADED_CELLS))
        except (ValueError, TypeError, KeyError) as exc:  # the model rejected the input
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(f"{self.ref} could not score the input: {first}") from exc
        try:
            result = pa.table(outputs)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(f"{self.ref} returned outputs Arrow cannot hold: {exc}") from exc
        if result.num_rows != table.num_rows:
            raise InvalidInput(f"{self.ref} returned {result.num_rows} rows for "
                               f"{table.num_rows} input rows")
        return result
