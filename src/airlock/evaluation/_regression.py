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

Bootstrap: Poisson(1) weights per row (the Poisson bootstrap, which approximates the
multinomial resampling of n rows; the resample size varies around n). Rows are sorted by
group and processed in chunks: one weights matrix ``n_boot x chunk`` per chunk, and one
matmul per (chunk, group) segment against the stacked quantities, so memory stays bounded
by ``_CHUNK_ELEMENTS`` whatever the number of rows. The Poisson(1) draws are 16-bit uniform
integers counted against the inverse-CDF thresholds (probabilities quantised to 1/65536;
weights above 8 are never drawn, P < 1e-5), several times faster than ``Generator.poisson``.
In a resample, Σ(y - ȳ)² below 1e-12 of Σ(y - ȳ_g)² counts as 0 (one value drawn
repeatedly), so R² follows the force_finite rule there instead of dividing by rounding noise.

The helpers ``poisson_weights``, ``group_sums``, ``summarise`` and ``summarise_paired`` are
shared with the ranking and multiclass calculators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from airlock.errors import InvalidInput
from airlock.evaluation._bootstrap import as_float, paired_p_value, percentile_ci, rng_for
from airlock.evaluation._types import Delta, MetricCI, Target

__all__ = ["RegressionTask", "group_sums", "poisson_weights", "summarise", "summarise_paired"]

Arr = np.ndarray[Any, Any]

METRICS = ("mae", "rmse", "r2", "mape")
EPS = float(np.finfo(np.float64).eps)
QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
HIST_BINS = 20
_CHUNK_ELEMENTS = 8_000_000  # weights per chunk: 64 MB of float64
_BLOCK = 1 << 17  # uniforms per threshold pass (stays in cache)
_R2_ZERO = 1e-12  # Σ(y - ȳ)² below this fraction of Σ(y - ȳ_g)² is a constant resample


def _poisson_thresholds() -> Arr:
    """16-bit thresholds t_k: a uniform draw u gives the Poisson(1) value #{k: u >= t_k}
    (the inverse CDF on the 65536 midpoints (u + 0.5) / 65536)."""
    k = np.arange(32, dtype=np.float64)
    pmf = np.exp(-1.0 - np.cumsum(np.log(np.maximum(k, 1.0))))  # e^-1 / k!
    mid = (np.arange(65536, dtype=np.float64) + 0.5) / 65536.0
    table = np.searchsorted(np.cumsum(pmf), mid, side="right")
    return np.searchsorted(table, np.arange(1, int(table[-1]) + 1)).astype(np.uint16)


_POISSON_THRESHOLDS = _poisson_thresholds()


def poisson_weights(rng: np.random.Generator, n_boot: int, n: int,
                    out: Arr | None = None) -> Arr:
    """``n_boot x n`` Poisson(1) bootstrap weights (float64) from one raw draw of 16-bit
    uniforms, counted against the thresholds block by block (cache-sized passes), written
    into ``out`` (a float64 buffer of at least n_boot * n elements) when given."""
    size = n_boot * n
    raw = rng.bit_generator.random_raw(max(1, -(-size // 4)))
    u = np.asarray(raw, dtype=np.uint64).view(np.uint16)[:size]
    w = np.empty(size) if out is None else out.reshape(-1)[:size]
    acc = np.empty(min(size, _BLOCK), dtype=np.uint8)
    hit = np.empty(min(size, _BLOCK), dtype=np.bool_)
    for start in range(0, size, _BLOCK):
        block = u[start:start + _BLOCK]
        a, h = acc[:len(block)], hit[:len(block)]
        np.greater_equal(block, _POISSON_THRESHOLDS[0], out=a.view(np.bool_))
        for threshold in _POISSON_THRESHOLDS[1:]:
            np.greater_equal(block, threshold, out=h)
            np.add(a, h.view(np.uint8), out=a)
        w[start:start + len(block)] = a
    return w.reshape(n_boot, n)


def group_sums(rng: np.random.Generator, values: Arr, codes: Arr, n_groups: int,
               n_boot: int) -> Arr:
    """Poisson-bootstrap sums ``(n_boot, n_groups, m)`` of the ``(n, m)`` per-row ``values``
    per group code, in bounded-memory row chunks (no loop per resample)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(codes, kind="stable")
    sorted_codes, sorted_values = codes[order], values[order]
    bounds = np.searchsorted(sorted_codes, np.arange(n_groups + 1))
    out = np.zeros((n_boot, n_groups, values.shape[1]))
    n = len(codes)
    chunk = max(1, _CHUNK_ELEMENTS // max(n_boot, 1))
    buffer = np.empty(n_boot * min(chunk, n))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        w = poisson_weights(rng, n_boot, stop - start, out=buffer)
        for g in range(int(sorted_codes[start]), int(sorted_codes[stop - 1]) + 1):
            a, b = max(int(bounds[g]), start), min(int(bounds[g + 1]), stop)
            if b > a:
                out[:, g] += w[:, a - start:b - start] @ sorted_values[a:b]
    return out


def summarise(points: Mapping[str, Arr], samples: Mapping[str, Arr], confidence: float,
              n_groups: int) -> list[dict[str, MetricCI]]:
    """Per group ``{metric: {value, ci_low, ci_high}}`` from point values ``(G,)`` and
    bootstrap samples ``(n_boot, G)`` (no samples: the CI bounds are None)."""
    out: list[dict[str, MetricCI]] = [{} for _ in range(n_groups)]
    for name, value in points.items():
        low = high = np.full(n_groups, np.nan)
        if name in samples and samples[name].shape[0] > 0:
            low, high = percentile_ci(samples[name], confidence, axis=0)
        for g in range(n_groups):
            out[g][name] = {"value": as_float(value[g]), "ci_low": as_float(low[g]),
                            "ci_high": as_float(high[g])}
    return out


def summarise_paired(cand: Mapping[str, Arr], base: Mapping[str, Arr],
                     cand_samples: Mapping[str, Arr], base_samples: Mapping[str, Arr],
                     confidence: float, n_groups: int) -> list[dict[str, Delta]]:
    """Per group ``{metric: {candidate, baseline, delta, ci_low, ci_high, p_value}}`` for the
    metrics both models have; the samples of both come from the same resamples."""
    out: list[dict[str, Delta]] = [{} for _ in range(n_groups)]
    for name in [m for m in cand if m in base]:
        low = high = p = np.full(n_groups, np.nan)
        if name in cand_samples and cand_samples[name].shape[0] > 0:
            with np.errstate(invalid="ignore"):
                deltas = cand_samples[name] - base_samples[name]
            low, high = percentile_ci(deltas, confidence, axis=0)
            p = paired_p_value(deltas, axis=0)
        with np.errstate(invalid="ignore"):
            delta = cand[name] - base[name]
        for g in range(n_groups):
            out[g][name] = {"candidate": as_float(cand[name][g]),
                            "baseline": as_float(base[name][g]), "delta": as_float(delta[g]),
                            "ci_low": as_float(low[g]), "ci_high": as_float(high[g]),
                            "p_value": as_float(p[g])}
    return out


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


class RegressionTask:
    """MAE, RMSE, R², MAPE per group with Poisson-bootstrap CIs; residual quantiles and a
    residual histogram in ``extras``."""

    name: str = "regression"

    def metric_names(self) -> list[str]:
        return list(METRICS)

    def higher_is_better(self, metric: str) -> bool:
        return metric == "r2"

    def grouped(self, t: Target, codes: Arr, n_groups: int, *, n_boot: int, seed: int,
                confidence: float) -> list[dict[str, MetricCI]]:
        y, pred = _arrays(t)
        codes = np.asarray(codes, dtype=np.int64)
        columns = [np.ones_like(y), *_centred(y, codes, n_groups), *_errors(y, pred)]
        points = _from_sums(_point_sums(columns, codes, n_groups))
        samples: dict[str, Arr] = {}
        if n_boot > 0 and len(y):
            sums = group_sums(rng_for(seed, self.name), np.column_stack(columns), codes,
                              n_groups, n_boot)
            samples = _from_sums(sums)
        return summarise(points, samples, confidence, n_groups)

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
            sums = group_sums(rng_for(seed, self.name, "paired"),
                              np.column_stack(cols_c + cols_b[3:]), codes, n_groups, n_boot)
            samples_c = _from_sums(sums[..., :6])
            samples_b = _from_sums(np.concatenate([sums[..., :3], sums[..., 6:]], axis=-1))
        return summarise_paired(points_c, points_b, samples_c, samples_b, confidence, n_groups)

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
