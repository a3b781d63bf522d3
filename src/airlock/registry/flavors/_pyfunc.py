"""Custom code: any callable (or object with ``predict``) taking a pandas DataFrame.

Saved by reference (``module:qualname``) when it can be imported again, which needs no
pickle; otherwise by value with cloudpickle, which is pickle-based and so needs trust.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from airlock.errors import InvalidInput, UsageError

from ._base import Outputs, require


class _Predictor:
    def __init__(self, fn: Any) -> None:
        self.fn = getattr(fn, "predict", fn)

    def predict(self, df: Any) -> Outputs:
        result = self.fn(df)
        if hasattr(result, "columns"):  # pandas / polars frame
            return {str(c): np.asarray(result[c]) for c in result.columns}
        if isinstance(result, dict):
            return {str(k): np.asarray(v) for k, v in result.items()}
        arr = np.asarray(result)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1 or len(arr) != len(df):
            raise InvalidInput(f"the model returned shape {arr.shape}, expected one value "
                               f"per input row ({len(df)})")
        return {"prediction": arr}


def _importable(obj: Any) -> str | None:
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not mod or not qual or mod == "__main__" or "<" in qual:
        return None
    try:
        target: Any = importlib.import_module(mod)
        for part in qual.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return f"{mod}:{qual}" if target is obj else None


def _resolve(ref: str) -> Any:
    mod, _, qual = ref.partition(":")
    try:
        target: Any = importlib.import_module(mod)
        for part in qual.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot import the model's code {ref!r}: {exc}") from exc
    return target


class PyFuncFlavor:
    name = "python"

    def detect(self, model: Any) -> bool:
        return callable(model) or hasattr(model, "predict")

    def libraries(self) -> list[str]:
        return ["cloudpickle", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return options.get("format") != "code_ref"

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        ref = _importable(model)
        if ref is not None and serialization in (None, "code_ref"):
            return {"format": "code_ref", "ref": ref}
        cloudpickle = require("cloudpickle", "sklearn")
        with open(path / "model.cloudpickle", "wb") as fh:
            cloudpickle.dump(model, fh)
        return {"format": "cloudpickle", "file": "model.cloudpickle"}

    def load(self, path: Path, options: dict[str, Any]) -> _Predictor:
        if options["format"] == "code_ref":
            return _Predictor(_resolve(options["ref"]))
        if options["format"] == "mlflow_pyfunc":  # an imported MLflow python_function model
            mlflow_pyfunc = require("mlflow.pyfunc", "bench")
            return _Predictor(mlflow_pyfunc.load_model(str(path)))
        cloudpickle = require("cloudpickle", "sklearn")
        with open(path / options["file"], "rb") as fh:
            return _Predictor(cloudpickle.load(fh))
