"""LightGBM models (scikit-learn wrappers or a Booster), saved as LightGBM's text format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ._base import Outputs, require


class _Predictor:
    def __init__(self, booster: Any, classes: list[Any] | None) -> None:
        self.booster, self.classes = booster, classes

    def predict(self, df: Any) -> Outputs:
        raw = np.asarray(self.booster.predict(df))
        if self.classes is None:
            return {"prediction": raw}
        proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
        labels = np.asarray(self.classes)
        out: Outputs = {"prediction": labels[np.argmax(proba, axis=1)]}
        for j, cls in enumerate(self.classes):
            out[f"proba_{cls}"] = proba[:, j]
        return out


class LightGBMFlavor:
    name = "lightgbm"

    def detect(self, model: Any) -> bool:
        return type(model).__module__.split(".")[0] == "lightgbm"

    def libraries(self) -> list[str]:
        return ["lightgbm", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(path / "model.txt"))
        classes = getattr(model, "classes_", None)
        opts: dict[str, Any] = {"format": "text", "file": "model.txt",
                                "class": type(model).__name__}
        if classes is not None:
            opts["classes"] = json.loads(json.dumps(np.asarray(classes).tolist()))
        return opts

    def load(self, path: Path, options: dict[str, Any]) -> _Predictor:
        lgb = require("lightgbm", "lightgbm")
        booster = lgb.Booster(model_file=str(path / options["file"]))
        return _Predictor(booster, options.get("classes"))
