"""Bootstrap helpers shared by the task calculators: seeded generators and percentile CIs."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

__all__ = ["as_float", "paired_p_value", "percentile_ci", "rng_for"]


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """A generator for one named component (``rng_for(0, "slices", "education")``): the
    draws of one part never depend on which other parts ran before it."""
    keys = [int(seed) & 0xFFFFFFFF, *(zlib.crc32(p.encode()) for p in parts)]
    return np.random.default_rng(np.random.SeedSequence(keys))


def percentile_ci(samples: np.ndarray[Any, Any], confidence: float,
                  axis: int = 0) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Percentile interval of bootstrap ``samples`` along ``axis`` (NaN samples ignored)."""
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
            low = np.nanquantile(samples, alpha, axis=axis)
            high = np.nanquantile(samples, 1.0 - alpha, axis=axis)
    return low, high


def paired_p_value(deltas: np.ndarray[Any, Any], axis: int = 0) -> np.ndarray[Any, Any]:
    """Two-sided bootstrap p-value of 'no difference' from resampled deltas."""
    with np.errstate(all="ignore"):
        valid = np.sum(~np.isnan(deltas), axis=axis)
        below = np.sum(deltas <= 0, axis=axis) / valid
        above = np.sum(deltas >= 0, axis=axis) / valid
        out: np.ndarray[Any, Any] = np.minimum(1.0, 2.0 * np.minimum(below, above))
        return out


def as_float(x: Any) -> float | None:
    """JSON-ready: NaN and inf become None, numpy scalars become float."""
    v = float(x)
    return v if np.isfinite(v) else None
