"""Mean |SHAP| per feature for tree models, through the ``shap`` package (extra ``explain``).

Applies to a model of the sklearn, xgboost or lightgbm flavor that ``shap.TreeExplainer``
supports and that takes the input columns as they are (not a Pipeline, whose trees see
transformed columns). SHAP values are computed on at most ``max_rows`` rows (the first
ones: no draw, the same rows every time) and checked for additivity: for every row, the
explainer's base value plus the row's SHAP values must equal the model's output in the
space explained (``additivity_error`` is the largest gap; ``additive`` says it is within
``1e-6`` of the output's scale). Anything that does not apply is a ``reason``, never an
error: permutation importance is the figure for every model.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.registry import LoadedModel

__all__ = ["MSG_NOT_TREE", "MSG_NO_SHAP", "MSG_PIPELINE", "TREE_FLAVORS", "shap_section"]

TREE_FLAVORS = ("sklearn", "xgboost", "lightgbm")
MSG_NO_SHAP = "SHAP values need the shap package: pip install 'airlock[explain]'"
MSG_NOT_TREE = "SHAP values are computed for tree models only (shap's TreeExplainer)"
MSG_PIPELINE = ("SHAP values need a tree model that takes the input columns as they are; "
                "this model is a Pipeline")
TOLERANCE = 1e-6


def shap_section(lm: LoadedModel, table: pa.Table, features: list[str], *,
                 max_rows: int = 2000) -> dict[str, Any]:
    """``{"method": "tree_shap", "rows", "mean_abs": {feature: value}, "base_value",
    "additivity_error", "additive"}`` or ``{"reason": …}`` when it does not apply."""
    model = getattr(lm.predictor, "model", None)
    if lm.version.flavor not in TREE_FLAVORS or model is None:
        return {"reason": MSG_NOT_TREE}
    if type(model).__name__ == "Pipeline":
        return {"reason": MSG_PIPELINE}
    try:
        with warnings.catch_warnings():  # shap's import warns through matplotlib's
            warnings.simplefilter("ignore")
            import shap
    except ImportError:
        return {"reason": MSG_NO_SHAP}
    try:
        explainer = shap.TreeExplainer(model)
    except Exception:  # shap raises its own InvalidModelError, and others, for non-trees
        return {"reason": MSG_NOT_TREE}
    frame = lm.conform(table.slice(0, max_rows)).to_pandas()
    explained = explainer(frame, check_additivity=False)
    values = np.asarray(explained.values, dtype=np.float64)
    base = np.asarray(explained.base_values, dtype=np.float64)
    output = np.asarray(explainer.model.predict(frame), dtype=np.float64)
    gap = np.abs(base + values.sum(axis=1) - output)
    error = float(gap.max()) if gap.size else 0.0
    scale = max(1.0, float(np.abs(output).max()) if output.size else 1.0)
    mean_abs = np.abs(values).mean(axis=0)
    if mean_abs.ndim > 1:  # one column of SHAP values per class
        mean_abs = mean_abs.mean(axis=1)
    order = np.argsort(-mean_abs, kind="stable")
    return {"method": "tree_shap", "rows": len(frame),
            "model_output": str(explainer.model.model_output),
            "mean_abs": {features[i]: float(mean_abs[i]) for i in order},
            "base_value": base.reshape(len(frame), -1).mean(axis=0).tolist() if base.size
            else [], "additivity_error": error, "additive": error <= TOLERANCE * scale}
