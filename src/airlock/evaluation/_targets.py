"""From model outputs and the target column to a :class:`Target` for each task."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import InvalidInput, UsageError

from ._data import group_codes
from ._types import Target

__all__ = ["TASKS", "build_target", "detect_task", "proba_classes"]

TASKS = ("binary", "multiclass", "regression", "ranking")
PROBA = "proba_"


def proba_classes(outputs: pa.Table) -> list[str]:
    return [c[len(PROBA):] for c in outputs.column_names if c.startswith(PROBA)]


def _as_labels(col: pa.ChunkedArray) -> pa.Array:
    """Target values as Arrow strings comparable with class names (1.0 and 1 both read
    '1'), vectorised: no Python object per row."""
    if pa.types.is_floating(col.type):
        arr = col.to_numpy(zero_copy_only=False)
        if np.all(np.isnan(arr) | (arr == np.round(arr))):
            col = pa.chunked_array([pa.array(np.where(np.isnan(arr), 0, arr).astype(np.int64))])
    if col.null_count:
        raise InvalidInput(f"the target column has {col.null_count} missing values")
    out: pa.Array = pc.cast(col, pa.string()).combine_chunks()
    return out


def detect_task(outputs: pa.Table, y: pa.ChunkedArray) -> str:
    n_proba = len(proba_classes(outputs))
    if n_proba == 2:
        return "binary"
    if n_proba > 2:
        return "multiclass"
    pred = outputs.column("prediction") if "prediction" in outputs.column_names else None
    if pred is not None and pa.types.is_floating(pred.type) and (
            pa.types.is_integer(y.type) or pa.types.is_floating(y.type)):
        return "regression"
    n_classes = len(pc.unique(y))
    return "binary" if n_classes <= 2 else "multiclass"


def _codes(values: pa.Array, classes: list[str]) -> np.ndarray[Any, Any]:
    """Class code of every value (its index in ``classes``), one error naming the values
    that are not classes."""
    index = pc.index_in(values, value_set=pa.array(classes, pa.string()))
    if index.null_count:
        unknown = sorted(pc.unique(pc.filter(values, pc.is_null(index))).to_pylist())
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise InvalidInput(f"target value{'s' if len(unknown) > 1 else ''} {shown} "
                           f"{'are' if len(unknown) > 1 else 'is'} not among the model's "
                           f"classes {classes}")
    return np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.int64)


def _integer_codes(y: pa.ChunkedArray, classes: list[str]) -> np.ndarray[Any, Any] | None:
    """Class codes of an integer target whose classes are all integers (``"0"``, ``"1"``),
    compared as numbers: no text per row. None when that does not apply."""
    if not pa.types.is_integer(y.type) or y.null_count:
        return None
    try:
        numbers = [int(c) for c in classes]
    except ValueError:
        return None
    if [str(v) for v in numbers] != classes:  # "01" or "+1" name no integer's text
        return None
    values = np.asarray(y.to_numpy(), dtype=np.int64)
    known = np.asarray(numbers, dtype=np.int64)
    sorter = np.argsort(known, kind="stable")
    at = np.searchsorted(known[sorter], values)
    at[at == len(known)] = 0
    found = known[sorter][at] == values
    if not found.all():
        return None  # the text path names the values that are not classes
    return np.asarray(sorter[at], dtype=np.int64)


def _distinct(values: pa.Array) -> set[str]:
    return {str(v) for v in pc.unique(values).to_pylist()}


def _prediction(outputs: pa.Table) -> pa.ChunkedArray:
    if "prediction" not in outputs.column_names:
        raise UsageError(f"the model returns no 'prediction' column (it returns "
                         f"{outputs.column_names})")
    return outputs.column("prediction")


def build_target(task: str, outputs: pa.Table, y: pa.ChunkedArray, *,
                 positive_label: str | None = None, classes: list[str] | None = None,
                 query: pa.ChunkedArray | None = None) -> Target:
    """``classes`` fixes the class order (so a baseline is read like the candidate)."""
    if task in ("binary", "multiclass"):
        return _classification(task, outputs, y, positive_label, classes)
    pred = _prediction(outputs).to_numpy(zero_copy_only=False).astype(np.float64)
    yv = y.to_numpy(zero_copy_only=False)
    try:
        yf = np.asarray(yv, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"a {task} target must be numeric, got {y.type}") from None
    if task == "regression":
        return Target(y=yf, pred=pred)
    if query is None:
        raise UsageError("a ranking evaluation needs a query-id column (--query)")
    return Target(y=yf, pred=pred, query=group_codes(query)[0])


def _classification(task: str, outputs: pa.Table, y: pa.ChunkedArray,
                    positive_label: str | None, classes: list[str] | None) -> Target:
    found = proba_classes(outputs)
    if not (classes or found):
        classes = sorted(_distinct(_as_labels(y)) | _distinct(_as_labels(_prediction(outputs))))
    classes = classes or found
    if task == "binary" and len(classes) != 2:
        raise UsageError(f"a binary evaluation needs two classes, the model has {classes}")
    if task == "binary" and positive_label is not None:
        if positive_label not in classes:
            raise UsageError(f"positive label {positive_label!r} is not a class: {classes}")
        classes = [c for c in classes if c != positive_label] + [positive_label]
    codes = _integer_codes(y, classes)
    if codes is None:
        codes = _codes(_as_labels(y), classes)
    if task == "binary":  # the positive class's score, one contiguous column
        score = np.asarray(outputs.column(PROBA + classes[1]).to_numpy(zero_copy_only=False)
                           if found else pc.equal(_as_labels(_prediction(outputs)), classes[1])
                           .to_numpy(zero_copy_only=False), dtype=np.float64)
        return Target(y=codes.astype(np.int8), pred=score, classes=classes)
    proba = None
    if found:
        proba = np.column_stack([outputs.column(PROBA + c).to_numpy(zero_copy_only=False)
                                 for c in classes]).astype(np.float64)
    predicted = _codes(_as_labels(_prediction(outputs)), classes) if proba is None else None
    return Target(y=codes, pred=proba, classes=classes, labels=predicted)
