"""The flavor table and the lookups over it: by name, and by detecting a model's kind.

Detection goes from the most specific flavor to the most general (python callables last).
"""

from __future__ import annotations

from typing import Any

from airlock.errors import UsageError

from ._base import Flavor
from ._embedder import EmbedderFlavor
from ._index import IndexFlavor
from ._lightgbm import LightGBMFlavor
from ._onnx import OnnxFlavor
from ._pyfunc import PyFuncFlavor
from ._sklearn import SklearnFlavor
from ._xgboost import XGBoostFlavor

__all__ = ["FLAVORS", "detect_flavor", "get_flavor"]

FLAVORS: dict[str, Flavor] = {
    f.name: f for f in (EmbedderFlavor(), IndexFlavor(), XGBoostFlavor(), LightGBMFlavor(),
                        OnnxFlavor(), SklearnFlavor(), PyFuncFlavor())
}


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name`` (a :class:`~airlock.errors.UsageError` naming the known
    ones otherwise)."""
    try:
        return FLAVORS[name]
    except KeyError:
        raise UsageError(f"unknown flavor {name!r}: use one of {sorted(FLAVORS)}") from None


def detect_flavor(model: Any) -> Flavor:
    """The first flavor, most specific first, that can save ``model``."""
    for flavor in FLAVORS.values():
        if flavor.detect(model):
            return flavor
    raise UsageError(
        f"cannot tell how to save a {type(model).__module__}.{type(model).__name__}: pass "
        f"flavor= one of {sorted(FLAVORS)}, or a callable taking a DataFrame"
    )
