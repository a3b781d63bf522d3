"""One metric of one variant against the control: estimates, lifts, CIs, p-values.

Mean and ratio metrics have closed forms (Welch's t or the confidence sequence on the
delta-method variance); quantile metrics (``latency_p95``) have none, so their CIs come from
the shared bootstrap engine (multinomial resamples of the latency histogram's cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from airlock.evaluation import paired_p_value, percentile_ci, resample_counts, rng_for

from . import _stats as st
from ._aggregate import hist_edges

__all__ = ["Lift", "Moments", "bootstrap_quantile", "lift_arrays", "lift_of", "moments",
           "quantile_of"]

Arr = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Moments:
    """Per variant (or per variant and bucket): estimate, variance of one unit, units."""

    mean: Arr
    var: Arr
    n: Arr


def moments(sums: dict[str, Arr], ratio: bool) -> Moments:
    """The estimate of a mean (or, with ``ratio``, a ratio of sums over units)."""
    n = sums["n"]
    if ratio:
        mean, var = st.ratio_moments(n, sums["s"], sums["d"], sums["ss"], sums["dd"],
                                     sums["sd"])
        return Moments(mean, var, n)
    with np.errstate(all="ignore"):
        mean = sums["s"] / n
        var = np.maximum((sums["ss"] - sums["s"] ** 2 / n) / (n - 1), 0.0)
    return Moments(mean, var, n)


@dataclass(frozen=True)
class Lift:
    """Absolute and relative lift with their intervals and the p-value (arrays or floats)."""

    lift: Any
    low: Any
    high: Any
    rel: Any
    rel_low: Any
    rel_high: Any
    p: Any
    var: Any


def lift_arrays(ma: Any, va: Any, na: Any, mb: Any, vb: Any, nb: Any, alpha: float,
                sequential: bool, tuning: float) -> Lift:
    """Lift of ``b`` over ``a`` (means, variances of one unit, units; any shape): Welch's
    t at a fixed horizon, else the confidence sequence and its always-valid p-value."""
    from scipy import stats

    lift, lo, hi, p = st.welch(ma, va, na, mb, vb, nb, alpha)
    rel, rel_var = st.relative(ma, va, na, mb, vb, nb)
    with np.errstate(all="ignore"):
        var = np.asarray(va, dtype=np.float64) / na + np.asarray(vb, dtype=np.float64) / nb
        total = np.asarray(na, dtype=np.float64) + nb
    if sequential:
        width = st.sequence_width(var, total, alpha, tuning)
        lo, hi = lift - width, lift + width
        p = st.sequence_p_value(lift, var, total, alpha, tuning)
        rel_w = st.sequence_width(rel_var, total, alpha, tuning)
    else:
        with np.errstate(all="ignore"):
            rel_w = stats.t.ppf(1 - alpha / 2, st.welch_dof(va, na, vb, nb)) * np.sqrt(rel_var)
    return Lift(lift, lo, hi, rel, rel - rel_w, rel + rel_w, p, var)


def lift_of(c: tuple[float, float, float], t: tuple[float, float, float], alpha: float,
            sequential: bool, tuning: float) -> Lift:
    """:func:`lift_arrays` of one comparison, as floats."""
    r = lift_arrays(*c, *t, alpha, sequential, tuning)
    return Lift(*(float(x) for x in (r.lift, r.low, r.high, r.rel, r.rel_low, r.rel_high,
                                     r.p, r.var)))


def _quantiles(counts: Arr, q: float, mids: Arr) -> Arr:
    """The ``q`` quantile of histograms (rows of ``counts`` over bins with values ``mids``):
    the first bin whose cumulative count reaches ``q`` of the total."""
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1:]
    idx = np.argmax(cum >= q * total, axis=-1)
    out: Arr = np.where(total[..., 0] > 0, mids[idx], np.nan)
    return out


def _mids(bins: Arr) -> Arr:
    edges = hist_edges()
    return np.asarray(np.sqrt(edges[bins] * edges[bins + 1]))


def quantile_of(counts: Arr, q: float) -> float:
    """The quantile of one full histogram."""
    bins = np.flatnonzero(counts)
    if not len(bins):
        return float("nan")
    return float(_quantiles(counts[bins].astype(np.float64), q, _mids(bins)))


@dataclass(frozen=True)
class Boot:
    samples: Arr  # (n_boot,) quantile per resample
    value: float


def _window(cells: Arr, q: float) -> tuple[int, int]:
    """The bins a resampled ``q`` quantile can fall in: those whose cumulative share comes
    within 8 standard errors of ``q`` (a resample outside has probability below 1e-14)."""
    n = float(cells.sum())
    se = float(np.sqrt(q * (1.0 - q) / n)) + 1.0 / n
    cum = np.cumsum(cells) / n
    before = cum - cells / n
    keep = np.flatnonzero((before <= q + 8 * se) & (cum >= q - 8 * se))
    return int(keep[0]), int(keep[-1]) + 1


def bootstrap_quantile(counts: Arr, q: float, *, n_boot: int, seed: int,
                       parts: tuple[str, ...]) -> Boot:
    """Bootstrap resamples of a histogram's quantile, drawn by the shared engine as
    multinomial counts over cells: the bins near the quantile, and one cell each for every
    bin below and every bin above them (the quantile only depends on the counts around it,
    so the draws are those of the full histogram, at a fraction of the cost)."""
    bins = np.flatnonzero(counts)
    if not len(bins):
        return Boot(np.full(n_boot, np.nan), float("nan"))
    cells = counts[bins].astype(np.float64)
    mids = _mids(bins)
    value = float(_quantiles(cells, q, mids))
    a, b = _window(cells, q)
    grouped = np.concatenate([[cells[:a].sum()], cells[a:b], [cells[b:].sum()]])
    gmids = np.concatenate([[mids[max(a - 1, 0)]], mids[a:b], [mids[min(b, len(mids) - 1)]]])
    rng = rng_for(seed, "experiments", *parts)
    samples = np.concatenate([_quantiles(chunk, q, gmids)
                              for chunk in resample_counts(rng, grouped, n_boot)])
    return Boot(samples, value)


def boot_ci(samples: Arr, value: float, alpha: float, sequential: bool,
            n: float, tuning: float) -> tuple[float, float]:
    """A percentile interval, or (sequential) the confidence sequence on the bootstrap SE."""
    if sequential:
        var = float(np.nanvar(samples, ddof=1)) if np.isfinite(samples).sum() > 1 \
            else float("nan")
        w = float(st.sequence_width(var, n, alpha, tuning))
        return value - w, value + w
    lo, hi = percentile_ci(samples, 1.0 - alpha)
    return float(lo), float(hi)


def boot_p(deltas: Arr, value: float, alpha: float, sequential: bool, n: float,
           tuning: float) -> float:
    if sequential:
        var = float(np.nanvar(deltas, ddof=1)) if np.isfinite(deltas).sum() > 1 \
            else float("nan")
        return float(st.sequence_p_value(value, var, n, alpha, tuning))
    return float(paired_p_value(deltas))
