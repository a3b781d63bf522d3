"""Regression metrics per group with Poisson-bootstrap confidence intervals.

Definitions (each equal to scikit-learn's on the same rows to 1e-12), with the residual
``r = y - pred``:

    mae   mean |r|                                   mean_absolute_error
    rmse  sqrt(mean r²)                              root_mean_squared_error
    r2    1 - Σr² / Σ(y - ȳ)²                        r2_score (force_finite): 1.0 when both
          sums are 0, 0.0 when only Σ(y - ȳ)² is; undefined (None) with fewer than 2 rows
    mape  mean |r| / max(|y|, eps), eps = float64    mean_absolute_percentage_error (so y = 0
          machine epsilon                            gives a huge value, as in scikit-learn)

Every metric is a function of six per-row quantities summed per group (count, y - ȳ_g,
(y - ȳ_g)², r², |r|, |r| / max(|y|, eps)); y is centred on its group mean first so that
Σy² - (Σy)²/n does not cancel. Point values use ``np.bincount`` sums.

Bootstrap: the Poisson bootstrap of the engine (``_bootstrap.poisson_group_sums``: a
Poisson(1) weight per row, approximating the multinomial resampling of n rows; the resample
size varies around n), over the six stacked per-row quantities, in bounded-memory chunks.
In a resample, Σ(y - ȳ)² below 1e-12 of Σ(y - ȳ_g)² counts as 0 (one value drawn
repeatedly), so R² follows the force_finite rule there instead of dividing by rounding noise.

``deltas`` (resampled candidate minus baseline) is shared with the ranking and multiclass
calculators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from airlock.errors import InvalidInput
from airlock.evaluation._bootstrap import (
    as_float,
    poisson_group_sums,
    rng_for,
    summarise,
    summarise_paired,
)
from airlock.evaluation._catalogue import CATALOGUE, CatalogueMeaning
from airlock.evaluation._types import Delta, MetricCI, Target

__all__ = ["RegressionTask", "deltas"]

Arr = np.ndarray[Any, Any]

METRICS = tuple(CATALOGUE.exact_names("regression"))
EPS = float(np.finfo(np.float64).eps)
QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
HIST_BINS = 20
_R2_ZERO = 1e-12  # Σ(y - ȳ)² below this fraction of Σ(y - ȳ_g)² is a constant resample


def _arrays(t: Target) -> tuple[Arr, Arr]:
    if t.pred is None:
        raise InvalidInput("regression evaluation needs numeric predictions")
    y = np.asarray(t.y, dtype=np.float64)
    pred = np.asarray(t.pred, dtype=np.float64)
    if pred.shape != y.shape:
        raise InvalidInput(f"regression predictions have shape {pred.shape}, "
                           f"the target {y.shape}")
    return y, pred


def _centred(y: Arr, codes: Arr, n_groups: int) -> tuple[Arr, Arr]:
    """(y - ȳ_g, (y - ȳ_g)²): y centred on its group's mean."""
    count = np.bincount(codes, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, y, minlength=n_groups) / count
    yc = y - mean[codes]
    return yc, yc * yc


def _errors(y: Arr, pred: Arr) -> list[Arr]:
    """Per-row r², |r|, |r| / max(|y|, eps)."""
    r = y - pred
    ar = np.abs(r)
    return [r * r, ar, ar / np.maximum(np.abs(y), EPS)]


def _from_sums(s: Arr) -> dict[str, Arr]:
    """Metrics from sums ``(..., 6)``: count, Σyc, Σyc², Σr², Σ|r|, Σape."""
    n, sy, syy, srr, sar, sape = (s[..., i] for i in range(6))
    with np.errstate(divide="ignore", invalid="ignore"):
        ss_tot = np.maximum(syy - sy * sy / n, 0.0)
        ss_tot = np.where(ss_tot <= _R2_ZERO * syy, 0.0, ss_tot)
        r2 = np.where(ss_tot != 0, 1.0 - srr / ss_tot, np.where(srr != 0, 0.0, 1.0))
        return {"mae": sar / n, "rmse": np.sqrt(srr / n), "r2": np.where(n >= 2, r2, np.nan),
                "mape": sape / n}


def _point_sums(columns: list[Arr], codes: Arr, n_groups: int) -> Arr:
    """Exact per-group sums ``(G, m)`` of per-row columns via ``np.bincount``."""
    return np.stack([np.bincount(codes, c, minlength=n_groups).astype(np.float64)
                     for c in columns], axis=-1)


def deltas(cand: Mapping[str, Arr], base: Mapping[str, Arr]) -> dict[str, Arr]:
    """Resampled candidate minus baseline, per metric both have (same resamples)."""
    with np.errstate(invalid="ignore"):
        return {m: cand[m] - base[m] for m in cand if m in base}


class RegressionTask(CatalogueMeaning):
    """MAE, RMSE, R², MAPE per group with Poisson-bootstrap CIs; residual quantiles and a
    residual histogram in ``extras``."""

    name: str = "regression"

    def metric_names(self) -> list[str]:
        return list(METRICS)


    def grouped(self, t: Target, codes: Arr, n_groups: int, *, n_boot: int, seed: int,
                confidence: float) -> list[dict[str, MetricCI]]:
        y, pred = _arrays(t)
        codes = np.asarray(codes, dtype=np.int64)
        columns = [np.ones_like(y), *_centred(y, codes, n_groups), *_errors(y, pred)]
        points = _from_sums(_point_sums(columns, codes, n_groups))
        samples: dict[str, Arr] = {}
        if n_boot > 0 and len(y):
            sums = poisson_group_sums(rng_for(seed, self.name), np.column_stack(columns),
                                      codes, n_groups, n_boot)
            samples = _from_sums(sums)
        return summarise(points, samples, confidence, n_groups, self.undefined_reason)

    def paired(self, cand: Target, base: Target, codes: Arr, n_groups: int, *, n_boot: int,
               seed: int, confidence: float) -> list[dict[str, Delta]]:
        y, pred_c = _arrays(cand)
        y_b, pred_b = _arrays(base)
        if not np.array_equal(y, y_b):
            raise InvalidInput("paired comparison needs the same target rows for both models")
        codes = np.asarray(codes, dtype=np.int64)
        shared = [np.ones_like(y), *_centred(y, codes, n_groups)]
        cols_c, cols_b = shared + _errors(y, pred_c), shared + _errors(y, pred_b)
        points_c = _from_sums(_point_sums(cols_c, codes, n_groups))
        points_b = _from_sums(_point_sums(cols_b, codes, n_groups))
        samples_c: dict[str, Arr] = {}
        samples_b: dict[str, Arr] = {}
        if n_boot > 0 and len(y):
            sums = poisson_group_sums(rng_for(seed, self.name, "paired"),
                                      np.column_stack(cols_c + cols_b[3:]), codes, n_groups,
                                      n_boot)
            samples_c = _from_sums(sums[..., :6])
            samples_b = _from_sums(np.concatenate([sums[..., :3], sums[..., 6:]], axis=-1))
        return summarise_paired(points_c, points_b, deltas(samples_c, samples_b), confidence,
                                n_groups, self.undefined_reason)

    def extras(self, t: Target) -> dict[str, Any]:
        """Residual (y - pred) quantiles and a 20-bin histogram over their full range."""
        y, pred = _arrays(t)
        r = y - pred
        if not len(r):
            return {"residual_quantiles": dict.fromkeys(QUANTILES),
                    "residual_histogram": {"edges": [], "counts": []}}
        q = np.quantile(r, list(QUANTILES.values()))
        counts, edges = np.histogram(r, bins=HIST_BINS)
        return {"residual_quantiles": {k: as_float(v) for k, v in zip(QUANTILES, q, strict=True)},
                "residual_histogram": {"edges": [float(e) for e in edges],
                                       "counts": [int(c) for c in counts]}}
