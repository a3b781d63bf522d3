"""The one bootstrap engine: seeding, resampled counts, percentile and ratio CIs.

Every calculator (binary, multiclass, fairness, regression, ranking) and every other
evaluation in airlock (guard, LLM) resamples through these functions; none draws on its
own. The pieces:

- :func:`rng_for` — a generator per named component, so the draws of one part never depend
  on which other parts ran before it.
- :func:`resample_counts` — the nonparametric bootstrap of ``n`` rows as multinomial counts
  over any partition of the rows (cells): ``multinomial(n, counts / n)`` per resample, in
  chunks of at most :data:`CHUNK_ELEMENTS` counts. The stream of draws does not depend on the
  chunk size, and the result does not depend on the order of the rows (cells are values).
  Every row its own cell (``counts = np.ones(n)``) is the plain row bootstrap.
- :func:`poisson_group_sums` — the Poisson bootstrap for continuous per-row values (Poisson(1)
  weight per row, 16-bit inverse-CDF draws), summed per group in bounded-memory row chunks.
  Rows are put in a canonical order (group, then values) before they get weights, so the
  result does not depend on the order of the rows nor on the chunk size.
- :func:`percentile_ci`, :func:`paired_p_value` — intervals and "no difference" p-values
  from resampled statistics (NaN resamples ignored).
- :func:`ratio_ci` — ``sum(num) / sum(den)`` per metric with a row-bootstrap percentile CI
  (precision, recall, rates over cases).
- :func:`summarise`, :func:`summarise_paired` — the JSON shapes ``{value, ci_low, ci_high}``
  and ``{candidate, baseline, delta, ci_low, ci_high, p_value}`` per group; a None value or
  delta comes with ``reason`` (the calculator says why its metric is undefined).

Seeding: ``rng_for(seed, *parts)``; the same seed and parts give the same draws, in any
process, whatever ran before.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["CHUNK_ELEMENTS", "NO_ROWS", "as_float", "paired_p_value", "percentile_ci",
           "poisson_group_sums", "poisson_weights", "ratio_ci", "resample_counts", "rng_for",
           "summarise", "summarise_paired"]

Arr = np.ndarray[Any, Any]

#: The one chunk size: resampled counts (or Poisson weights) held in memory at once.
CHUNK_ELEMENTS = 4_000_000
_BLOCK = 1 << 17  # uniforms per Poisson threshold pass (stays in cache)


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """A generator for one named component (``rng_for(0, "slices", "education")``): the
    draws of one part never depend on which other parts ran before it."""
    keys = [int(seed) & 0xFFFFFFFF, *(zlib.crc32(p.encode()) for p in parts)]
    return np.random.default_rng(np.random.SeedSequence(keys))


def resample_counts(rng: np.random.Generator, counts: Arr, n_boot: int, *,
                    width: int | None = None) -> Iterator[Arr]:
    """Bootstrap resamples of the rows as cell counts: ``(b, C)`` float64 chunks, ``n_boot``
    rows in all, of ``multinomial(n, counts / n)`` with ``n = counts.sum()``.

    ``counts`` holds the rows of each cell of a partition. ``width`` is the number of values
    the caller expands one resample into (default: the number of cells); chunks hold at
    most :data:`CHUNK_ELEMENTS` of those. The draws do not depend on the chunking."""
    counts = np.asarray(counts)
    total = int(counts.sum())
    if n_boot <= 0 or total == 0:
        return
    pvals = counts / total
    chunk = max(1, min(n_boot, CHUNK_ELEMENTS // max(width or len(counts), 1)))
    for start in range(0, n_boot, chunk):
        yield rng.multinomial(total, pvals, size=min(chunk, n_boot - start)).astype(np.float64)


def _poisson_thresholds() -> Arr:
    """16-bit thresholds t_k: a uniform draw u gives the Poisson(1) value #{k: u >= t_k}
    (the inverse CDF on the 65536 midpoints (u + 0.5) / 65536)."""
    k = np.arange(32, dtype=np.float64)
    pmf = np.exp(-1.0 - np.cumsum(np.log(np.maximum(k, 1.0))))  # e^-1 / k!
    mid = (np.arange(65536, dtype=np.float64) + 0.5) / 65536.0
    table = np.searchsorted(np.cumsum(pmf), mid, side="right")
    return np.searchsorted(table, np.arange(1, int(table[-1]) + 1)).astype(np.uint16)


_POISSON_THRESHOLDS = _poisson_thresholds()


def poisson_weights(rng: np.random.Generator, n: int, n_boot: int,
                    out: Arr | None = None) -> Arr:
    """``(n, n_boot)`` Poisson(1) bootstrap weights (float64), row by row from one raw draw
    of 16-bit uniforms counted against the inverse-CDF thresholds (probabilities quantised
    to 1/65536; weights above 8 are never drawn, P < 1e-5). Written into ``out`` (a float64
    buffer of at least n * n_boot elements) when given. Consecutive calls whose ``n * n_boot``
    is a multiple of 4 continue one stream."""
    size = n * n_boot
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
    return w.reshape(n, n_boot)


def poisson_group_sums(rng: np.random.Generator, values: Arr, codes: Arr, n_groups: int,
                       n_boot: int) -> Arr:
    """Poisson-bootstrap sums ``(n_boot, n_groups, m)`` of the ``(n, m)`` per-row ``values``
    per group code, in row chunks of at most :data:`CHUNK_ELEMENTS` weights.

    Rows are sorted by (group, values) before they get their weights, so equal inputs in
    any row order give equal sums; the weights stream does not depend on the chunk size."""
    values = np.asarray(values, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    order = np.lexsort((*values.T[::-1], codes)) if len(codes) else np.zeros(0, np.int64)
    sorted_codes, sorted_values = codes[order], values[order]
    bounds = np.searchsorted(sorted_codes, np.arange(n_groups + 1))
    out = np.zeros((n_boot, n_groups, values.shape[1]))
    n = len(codes)
    chunk = max(4, (CHUNK_ELEMENTS // max(n_boot, 1)) // 4 * 4)
    buffer = np.empty(n_boot * min(chunk, n)) if n else np.empty(0)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        w = poisson_weights(rng, stop - start, n_boot, out=buffer)
        for g in range(int(sorted_codes[start]), int(sorted_codes[stop - 1]) + 1):
            a, b = max(int(bounds[g]), start), min(int(bounds[g + 1]), stop)
            if b > a:
                out[:, g] += w[a - start:b - start].T @ sorted_values[a:b]
    return out


def percentile_ci(samples: Arr, confidence: float, axis: int = 0) -> tuple[Arr, Arr]:
    """Percentile interval of bootstrap ``samples`` along ``axis`` (NaN samples ignored;
    all-NaN or no samples give NaN)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[axis] == 0:
        nan = np.full(np.delete(samples.shape, axis), np.nan)
        return nan, nan.copy()
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        low = np.nanquantile(samples, alpha, axis=axis)
        high = np.nanquantile(samples, 1.0 - alpha, axis=axis)
    return np.asarray(low), np.asarray(high)


def paired_p_value(deltas: Arr, axis: int = 0) -> Arr:
    """Two-sided bootstrap p-value of 'no difference' from resampled deltas. A delta within
    rounding noise of 0 (1e-12 of the largest) counts as 0, so the p-value does not depend
    on the order in which sums were added."""
    deltas = np.asarray(deltas, dtype=np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        scale = np.nanmax(np.abs(deltas), axis=axis, keepdims=True) if deltas.size else 0.0
        tol = 1e-12 * np.nan_to_num(scale)
        valid = np.sum(~np.isnan(deltas), axis=axis)
        below = np.sum(deltas <= tol, axis=axis) / valid
        above = np.sum(deltas >= -tol, axis=axis) / valid
        out: Arr = np.minimum(1.0, 2.0 * np.minimum(below, above))
        return out


def ratio_ci(num: Arr, den: Arr, *, rng: np.random.Generator, n_boot: int,
             confidence: float) -> tuple[Arr, Arr, Arr]:
    """Ratios of sums over rows with a row-bootstrap percentile CI.

    ``num`` and ``den`` are ``(rows, metrics)``; returns ``(value, ci_low, ci_high)``, each
    ``(metrics,)``: ``value = num.sum(0) / den.sum(0)`` (NaN where the denominator is 0), the
    bounds NaN without resamples. Every row is its own cell of :func:`resample_counts`."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    n, m = num.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        value = num.sum(axis=0) / den.sum(axis=0)
    parts = []
    for w in resample_counts(rng, np.ones(n), n_boot):
        with np.errstate(invalid="ignore", divide="ignore"):
            parts.append((w @ num) / (w @ den))
    low, high = percentile_ci(np.concatenate(parts) if parts else np.empty((0, m)),
                              confidence)
    return value, low, high


def as_float(x: Any) -> float | None:
    """JSON-ready: NaN and inf become None, numpy scalars become float."""
    v = float(x)
    return v if np.isfinite(v) else None


Reason = Callable[[str], str]
UNDEFINED = "undefined on these rows"
NO_ROWS = "no rows in this group"


def _generic(name: str) -> str:
    return UNDEFINED


def summarise(points: Mapping[str, Arr], samples: Mapping[str, Arr], confidence: float,
              n_groups: int, reason: Reason = _generic, sizes: Arr | None = None
              ) -> list[dict[str, dict[str, Any]]]:
    """Per group ``{metric: {value, ci_low, ci_high}}`` from point values ``(G,)`` and
    bootstrap samples ``(n_boot, G)`` (a metric without samples has None bounds). A None
    value (undefined, or not finite) comes with ``reason``: ``reason(metric)``, or
    :data:`NO_ROWS` for a group whose ``sizes`` is 0."""
    out: list[dict[str, dict[str, Any]]] = [{} for _ in range(n_groups)]
    nan = np.full(n_groups, np.nan)
    for name, value in points.items():
        low, high = nan, nan
        if name in samples:
            low, high = percentile_ci(samples[name], confidence, axis=0)
        for g in range(n_groups):
            cell: dict[str, Any] = {"value": as_float(value[g]), "ci_low": as_float(low[g]),
                                    "ci_high": as_float(high[g])}
            if cell["value"] is None:
                cell["reason"] = NO_ROWS if sizes is not None and sizes[g] == 0 else reason(name)
            out[g][name] = cell
    return out


def summarise_paired(cand: Mapping[str, Arr], base: Mapping[str, Arr],
                     delta_samples: Mapping[str, Arr], confidence: float,
                     n_groups: int, reason: Reason = _generic
                     ) -> list[dict[str, dict[str, Any]]]:
    """Per group ``{metric: {candidate, baseline, delta, ci_low, ci_high, p_value}}`` for the
    metrics both models have; ``delta_samples`` (candidate minus baseline, ``(n_boot, G)``)
    come from the same resamples of both. A None delta comes with ``reason``."""
    out: list[dict[str, dict[str, Any]]] = [{} for _ in range(n_groups)]
    nan = np.full(n_groups, np.nan)
    for name in [m for m in cand if m in base]:
        low, high, p = nan, nan, nan
        if name in delta_samples and delta_samples[name].shape[0] > 0:
            low, high = percentile_ci(delta_samples[name], confidence, axis=0)
            p = paired_p_value(delta_samples[name], axis=0)
        with np.errstate(invalid="ignore"):
            delta = cand[name] - base[name]
        for g in range(n_groups):
            cell: dict[str, Any] = {
                "candidate": as_float(cand[name][g]), "baseline": as_float(base[name][g]),
                "delta": as_float(delta[g]), "ci_low": as_float(low[g]),
                "ci_high": as_float(high[g]), "p_value": as_float(p[g])}
            if cell["delta"] is None:
                side = "candidate" if cell["candidate"] is None else "baseline"
                cell["reason"] = f"{side}: {reason(name)}"
            out[g][name] = cell
    return out
