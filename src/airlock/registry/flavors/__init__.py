"""Flavors: how each kind of model is saved, loaded and asked to predict.

``FLAVORS`` maps each flavor's name to it; :func:`get_flavor` finds one by name and
:func:`detect_flavor` by the model (the most specific flavor first, python callables last).
:func:`require` imports a flavor's optional dependency or names the extra that provides it.
"""

from __future__ import annotations

from ._base import Flavor, Predictor, require
from ._lookup import FLAVORS, detect_flavor, get_flavor

__all__ = ["FLAVORS", "Flavor", "Predictor", "detect_flavor", "get_flavor", "require"]
