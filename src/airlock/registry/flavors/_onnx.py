"""ONNX models run by onnxruntime (CPU). Columns map to graph inputs by name, or all columns
stack into the single 2-D input in signature order.

onnxruntime checks what it parses (protobuf lengths, initializer sizes against their shapes,
external data inside the model's folder) and raises; :func:`loading` turns that into one
UsageError naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from airlock.errors import InvalidInput

from ._base import Outputs, loading, model_file_fault, require

_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
          "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(string)": np.object_,
          "tensor(bool)": np.bool_}


class _Predictor:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = session.get_inputs()
        self.outputs = [o.name for o in session.get_outputs()]

    def _feeds(self, df: Any) -> dict[str, Any]:
        if len(self.inputs) == 1 and self.inputs[0].name not in df.columns:
            spec = self.inputs[0]
            return {spec.name: df.to_numpy().astype(_TYPES.get(spec.type, np.float32))}
        feeds = {}
        for spec in self.inputs:
            if spec.name not in df.columns:
                raise InvalidInput(f"the ONNX model needs input {spec.name!r}")
            col = df[spec.name].to_numpy().astype(_TYPES.get(spec.type, np.float32))
            feeds[spec.name] = col.reshape(-1, 1)
        return feeds

    def predict(self, df: Any) -> Outputs:
        results = self.session.run(self.outputs, self._feeds(df))
        out: Outputs = {}
        for name, value in zip(self.outputs, results, strict=True):
            if isinstance(value, list):  # ZipMap: a list of {class: probability}
                for key in value[0] if value else []:
                    out[f"{name}_{key}"] = np.asarray([row[key] for row in value])
                continue
            arr = np.asarray(value)
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim == 1:
                out[name] = arr
            else:
                for j in range(arr.shape[1]):
                    out[f"{name}_{j}"] = arr[:, j]
        return out


class OnnxFlavor:
    name = "onnx"

    def detect(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")

    def libraries(self) -> list[str]:
        return ["onnx", "onnxruntime", "numpy"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        (path / "model.onnx").write_bytes(model.SerializeToString())
        return {"format": "onnx", "file": "model.onnx"}

    def load(self, path: Path, options: dict[str, Any]) -> _Predictor:
        ort = require("onnxruntime", "onnx")
        file = path / options["file"]
        with loading(self.name, file):
            if file.stat().st_size == 0:  # onnxruntime: "No graph was found in the protobuf"
                raise model_file_fault(self.name, file, "the file is empty")
            sess = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
            return _Predictor(sess)
