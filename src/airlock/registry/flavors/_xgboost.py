"""XGBoost models (scikit-learn wrappers or a Booster), saved in XGBoost's own UBJSON format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._base import EstimatorPredictor, Outputs, require


class _BoosterPredictor:
    def __init__(self, booster: Any, xgb: Any) -> None:
        self.booster, self.xgb = booster, xgb

    def predict(self, df: Any) -> Outputs:
        return {"prediction": np.asarray(self.booster.predict(self.xgb.DMatrix(df)))}


class XGBoostFlavor:
    name = "xgboost"

    def detect(self, model: Any) -> bool:
        return type(model).__module__.split(".")[0] == "xgboost"

    def libraries(self) -> list[str]:
        return ["xgboost", "xgboost-cpu", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        model.save_model(path / "model.ubj")
        return {"format": "ubj", "file": "model.ubj", "class": type(model).__name__}

    def load(self, path: Path, options: dict[str, Any]) -> Any:
        xgb = require("xgboost", "xgboost")
        file = str(path / options["file"])
        cls = options.get("class", "Booster")
        if cls == "Booster":
            booster = xgb.Booster()
            booster.load_model(file)
            return _BoosterPredictor(booster, xgb)
        model = getattr(xgb, cls)()
        model.load_model(file)
        return EstimatorPredictor(model)
