"""One column's drift: the reference (a column profile, and for numeric columns its exact
sorted values when known) against the current values.

Default method, as Evidently's DataDriftPreset chooses it (``n`` = the reference's non-missing
values, ``k`` = distinct values of reference and current together):

    n <= 1000   numerical, k > 5: ks (p <= 0.05)     otherwise: chisquare if k > 2 else z (p < 0.05)
    n >  1000   numerical, k > 5: wasserstein (>= 0.1)  otherwise: jensenshannon (>= 0.1)

An integer column whose reference holds at most 10 distinct values is categorical (Evidently
infers the same), unless the caller forces it numerical. A numeric column with ``k <= 5`` is
compared on its value counts for chisquare, z, PSI and Jensen-Shannon; other numeric columns use
``bins`` (10) reference-quantile bins for PSI and Jensen-Shannon. Missing values (null, NaN,
infinite) are left out of every statistic and reported as missing rates; a change of the
missing rate by ``MISSING_SHIFT`` (0.25) or more is drift on its own (a column going from 0 % to
100 % null drifted, whatever its remaining values say), and so is a column with values on one
side and none on the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from airlock.errors import UsageError

from . import _stats as st
from ._profile import CategoricalProfile, NumericProfile
from ._result import P_VALUE_METHODS, ColumnDrift

__all__ = [
    "CATEGORICAL_METHODS",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "MISSING_SHIFT",
    "NUMERIC_METHODS",
    "Choice",
    "categorical_drift",
    "default_method",
    "missing_drift",
    "numeric_drift",
]

DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "homogeneity": 0.05, "z": 0.05,
                      "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}
METHODS = frozenset(DEFAULT_THRESHOLDS)
NUMERIC_METHODS = frozenset({"ks", "wasserstein", "psi", "jensenshannon", "chisquare",
                             "homogeneity", "z"})
CATEGORICAL_METHODS = frozenset({"chisquare", "homogeneity", "z", "psi", "jensenshannon"})
SMALL_REFERENCE = 1000
FEW_VALUES = 5
INTEGER_CATEGORIES = 10
DISPLAY_BINS = 30
DISPLAY_CATEGORIES = 12
LISTED = 20  # new / vanished categories listed per column
MISSING_SHIFT = 0.25

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Choice:
    """The caller's method and threshold for one column (None: the default)."""

    method: str | None = None
    threshold: float | None = None
    bins: int = 10
    forced_numerical: bool = False


def default_method(kind: str, n_reference: int, n_values: int) -> str:
    if n_reference <= SMALL_REFERENCE:
        if kind == "numerical" and n_values > FEW_VALUES:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == "numerical" and n_values > FEW_VALUES:
        return "wasserstein"
    return "jensenshannon"


def _decide(method: str, statistic: float | None, p_value: float | None,
            threshold: float) -> bool:
    if method == "ks":
        return p_value is not None and p_value <= threshold
    if method in ("chisquare", "homogeneity", "z"):
        return p_value is not None and p_value < threshold
    return statistic is not None and statistic >= threshold


def _verdict(name: str, kind: str, choice: Choice, n_ref: int, n_values: int,
             stats: Mapping[str, float | None]) -> tuple[str, float | None, float | None, float]:
    method = choice.method or default_method(kind, n_ref, n_values)
    allowed = NUMERIC_METHODS if kind == "numerical" else CATEGORICAL_METHODS
    if method not in allowed:
        raise UsageError(f"column {name!r} is {kind}: method {method!r} does not apply "
                         f"(use one of {', '.join(sorted(allowed))})")
    threshold = DEFAULT_THRESHOLDS[method] if choice.threshold is None else choice.threshold
    p_value = stats.get(f"{method}_p_value") if method in P_VALUE_METHODS else None
    return method, stats.get(method), p_value, threshold


def _empty(name: str, kind: str, choice: Choice, ref_rows: int, ref_count: int,
           cur_rows: int, cur_count: int) -> ColumnDrift:
    method = choice.method or default_method(kind, ref_count, 0)
    side = "reference" if ref_count == 0 else "current data"
    return ColumnDrift(
        column=name, kind=kind, method=method, statistic=None, p_value=None,
        threshold=DEFAULT_THRESHOLDS.get(method, 0.0) if choice.threshold is None
        else choice.threshold, drifted=False, reference_count=ref_count,
        current_count=cur_count, reference_missing_rate=_rate(ref_rows - ref_count, ref_rows),
        current_missing_rate=_rate(cur_rows - cur_count, cur_rows),
        note=f"no values in the {side}: nothing to compare")


def missing_drift(c: ColumnDrift) -> ColumnDrift:
    """``c`` marked drifted when its missing rate moved by ``MISSING_SHIFT`` or more, or
    when one side has values and the other none; the note says so."""
    change = c.missing_rate_change
    one_sided = (c.reference_count == 0) != (c.current_count == 0)
    if c.drifted or not (abs(change) >= MISSING_SHIFT or one_sided):
        return c
    why = (f"missing values went from {c.reference_missing_rate:.1%} in the reference to "
           f"{c.current_missing_rate:.1%} in the current data")
    # a one-sided column's note ("nothing to compare") is replaced: it is the finding now
    return replace(c, drifted=True,
                   note=why if c.note is None or one_sided else f"{why}; {c.note}")


def _rate(part: int | float, whole: int | float) -> float:
    return float(part) / float(whole) if whole else 0.0


# -- categorical ----------------------------------------------------------------------------
def _count_stats(ref: I64 | F64, cur: I64 | F64) -> dict[str, float | None]:
    chi, chi_p = st.chisquare(ref, cur)
    hom, hom_p = st.homogeneity(ref, cur)
    z, z_p = st.z_test(np.array([ref[0], ref[1:].sum()]), np.array([cur[0], cur[1:].sum()])) \
        if ref.size >= 2 else (0.0, 1.0)
    return {"chisquare": chi, "chisquare_p_value": chi_p, "homogeneity": hom,
            "homogeneity_p_value": hom_p, "z": z, "z_p_value": z_p,
            "psi": st.psi(ref, cur), "jensenshannon": st.jensenshannon(ref, cur)}


def _category_display(keys: list[str], ref: F64, cur: F64) -> dict[str, Any]:
    pr, pc = ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)
    top = np.argsort(-np.maximum(pr, pc), kind="stable")[:DISPLAY_CATEGORIES]
    top = np.sort(top)
    cats = [keys[i] for i in top]
    rs, cs = pr[top].tolist(), pc[top].tolist()
    if len(keys) > len(top):
        cats.append("(other)")
        rs.append(max(0.0, 1.0 - float(sum(rs))))
        cs.append(max(0.0, 1.0 - float(sum(cs))))
    return {"type": "categories", "categories": cats, "reference": rs, "current": cs}


def categorical_drift(name: str, ref_rows: int, ref_counts: Mapping[str, int],
                      cur_rows: int, cur_counts: Mapping[str, int], choice: Choice,
                      kind: str = "categorical",
                      extra: Mapping[str, float | None] | None = None) -> ColumnDrift:
    """Drift of a column known by its category counts on both sides."""
    n_ref, n_cur = sum(ref_counts.values()), sum(cur_counts.values())
    if n_ref == 0 or n_cur == 0:
        return _empty(name, kind, choice, ref_rows, n_ref, cur_rows, n_cur)
    keys = sorted(set(ref_counts) | set(cur_counts), key=_sort_key)
    ref = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64)
    stats = _count_stats(ref, cur)
    stats.update(extra or {})
    method, stat, p, thr = _verdict(name, kind, choice, n_ref, len(keys), stats)
    new = [k for k in keys if k not in ref_counts]
    vanished = [k for k in keys if k not in cur_counts]
    new_share = _rate(sum(cur_counts[k] for k in new), n_cur)
    return ColumnDrift(
        column=name, kind=kind, method=method, statistic=stat, p_value=p, threshold=thr,
        drifted=_decide(method, stat, p, thr), statistics=stats, reference_count=n_ref,
        current_count=n_cur, reference_missing_rate=_rate(ref_rows - n_ref, ref_rows),
        current_missing_rate=_rate(cur_rows - n_cur, cur_rows), out_of_range_rate=new_share,
        new_categories=tuple(new[:LISTED]), vanished_categories=tuple(vanished[:LISTED]),
        distribution=_category_display(keys, ref, cur))


def _sort_key(k: str) -> tuple[int, float, str]:
    """Numbers (numeric columns compared on their values) sort by value, text by text."""
    try:
        return (0, float(k), k)
    except ValueError:
        return (1, 0.0, k)


def profile_categorical(name: str, ref: CategoricalProfile, cur_rows: int,
                        cur_counts: Mapping[str, int], choice: Choice) -> ColumnDrift:
    return categorical_drift(name, ref.rows, ref.as_dict(), cur_rows, cur_counts, choice)


# -- numeric --------------------------------------------------------------------------------
def _label(values: F64, integer: bool) -> list[str]:
    if integer:
        return [str(int(v)) for v in values]
    return [repr(float(v)) for v in values]


def _value_counts(sorted_values: F64) -> tuple[F64, I64]:
    if sorted_values.size == 0:
        return sorted_values, np.empty(0, np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(starts, sorted_values.size)).astype(np.int64)
    return sorted_values[starts], counts


def _reference_sample(ref: NumericProfile, ref_sorted: F64 | None) -> F64 | None:
    """The exact sorted reference values, when known (kept, or an exact sketch expanded)."""
    if ref_sorted is not None:
        return ref_sorted
    if ref.sketch.exact:
        out: F64 = np.repeat(ref.sketch.values(), ref.sketch.counts)
        return out
    return None


def numeric_drift(name: str, ref: NumericProfile, ref_sorted: F64 | None, cur: F64,
                  choices: Mapping[str, Choice]) -> ColumnDrift:
    """Drift of a numeric column; ``cur`` holds the current values with NaN for nulls;
    ``choices`` maps 'numerical' and 'categorical' to the caller's choice for this column
    (an integer column of few values is compared as categories)."""
    choice = choices["numerical"]
    cur_rows = int(cur.size)
    cur_sorted = np.sort(cur[np.isfinite(cur)])
    if ref.count == 0 or cur_sorted.size == 0:
        return _empty(name, "numerical", choice, ref.rows, ref.count, cur_rows,
                      int(cur_sorted.size))
    ref_exact = ref.sketch.exact
    if ref_exact and ref.integer and not choice.forced_numerical \
            and ref.sketch.keys.size <= INTEGER_CATEGORIES:
        return _as_categories(name, ref, cur_sorted, cur_rows, choices["categorical"],
                              "categorical", {})
    sample = _reference_sample(ref, ref_sorted)
    need_p = choice.method == "ks" or (choice.method is None and ref.count <= SMALL_REFERENCE)
    stats, approx, bound = _distances(ref, sample, cur_sorted, choice.bins, need_p)
    if ref_exact:
        cur_values, _ = _value_counts(cur_sorted)
        distinct = np.union1d(ref.sketch.values(), cur_values).size
        if distinct <= FEW_VALUES:
            return _as_categories(name, ref, cur_sorted, cur_rows, choice, "numerical", stats)
    method, stat, p, thr = _verdict(name, "numerical", choice, ref.count,
                                    FEW_VALUES + 1, stats)
    approx_here = approx and method in ("ks", "wasserstein")
    lo, hi = float(ref.min or 0.0), float(ref.max or 0.0)  # set: ref.count > 0
    outside = int(np.searchsorted(cur_sorted, lo, "left")) + int(
        cur_sorted.size - np.searchsorted(cur_sorted, hi, "right"))
    return ColumnDrift(
        column=name, kind="numerical", method=method, statistic=stat, p_value=p,
        threshold=thr, drifted=_decide(method, stat, p, thr), statistics=stats,
        approximate=approx_here, error_bound=bound.get(method) if approx_here else None,
        reference_count=ref.count, current_count=int(cur_sorted.size),
        reference_missing_rate=_rate(ref.missing, ref.rows),
        current_missing_rate=_rate(cur_rows - cur_sorted.size, cur_rows),
        out_of_range_rate=_rate(outside, cur_sorted.size),
        distribution=_numeric_display(ref, cur_sorted))


def _as_categories(name: str, ref: NumericProfile, cur_sorted: F64, cur_rows: int,
                   choice: Choice, kind: str,
                   numeric_stats: Mapping[str, float | None]) -> ColumnDrift:
    """A low-cardinality numeric column compared on its value counts."""
    cur_values, cur_counts = _value_counts(cur_sorted)
    integer = ref.integer
    ref_counts = dict(zip(_label(ref.sketch.values(), integer), ref.sketch.counts.tolist(),
                          strict=True))
    cur_map = dict(zip(_label(cur_values, integer), cur_counts.tolist(), strict=True))
    extra = {k: v for k, v in numeric_stats.items() if k in ("ks", "ks_p_value", "wasserstein")}
    out = categorical_drift(name, ref.rows, ref_counts, cur_rows, cur_map, choice, kind, extra)
    if kind == "numerical":
        lo, hi = float(ref.min or 0.0), float(ref.max or 0.0)
        outside = int(np.count_nonzero((cur_sorted < lo) | (cur_sorted > hi)))
        from dataclasses import replace

        out = replace(out, out_of_range_rate=_rate(outside, cur_sorted.size),
                      new_categories=(), vanished_categories=())
    return out


def _distances(ref: NumericProfile, sample: F64 | None, cur: F64, bins: int,
               need_p: bool) -> tuple[dict[str, float | None], bool, dict[str, float]]:
    """PSI and Jensen-Shannon on quantile bins, KS and normed Wasserstein (exact with the
    reference sample, else from the sketch with error bounds). The KS p-value of large
    samples is computed when ``need_p`` (KS decides), else left None."""
    edges, ref_below = ref.sketch.quantile_edges(bins)
    n, m = ref.count, cur.size
    ref_bins = np.diff(np.concatenate(([0], ref_below, [n])))
    cur_bins = np.diff(np.concatenate(([0], np.searchsorted(cur, edges, "left"), [m])))
    stats: dict[str, float | None] = {"psi": st.psi(ref_bins, cur_bins),
                                      "jensenshannon": st.jensenshannon(ref_bins, cur_bins)}
    bounds: dict[str, float] = {}
    if sample is not None:
        d, p, w = st.ks_wasserstein(sample, cur, p_value=need_p)
        std = float(np.std(sample))
    else:
        d, d_err, w, w_err = _sketch_ks_wasserstein(ref, cur)
        p = st.kstwo_pvalue(d, n, m) if need_p or max(n, m) <= st.SCIPY_EXACT_MAX else None
        std = ref.std or 0.0
        bounds = {"ks": d_err, "wasserstein": w_err / max(std, 0.001)}
    stats.update(ks=d, ks_p_value=p, wasserstein=w / max(std, 0.001))
    return stats, sample is None, bounds


def _sketch_ks_wasserstein(ref: NumericProfile, cur: F64) -> tuple[float, float, float, float]:
    """KS and Wasserstein-1 of a sketched reference against the sorted current values.

    Both CDFs are exact at the reference's bucket boundaries. KS is evaluated there: a lower
    bound of the true statistic, short of it by at most the largest share of either sample
    inside one reference bucket (the bound returned; 0 between buckets, where the reference
    CDF is flat). Wasserstein takes both CDFs as linear between boundaries, and exact beyond
    the reference's range: off by at most ``sum(width * (reference share + current share))``
    over the intervals (the bound returned).
    """
    sk = ref.sketch
    lower, upper = sk.lower(), sk.upper()
    points = np.unique(np.concatenate([lower, upper]))
    points = points[np.isfinite(points)]
    n, m = float(sk.n), float(cur.size)
    ref_cdf = np.concatenate(([0], np.cumsum(sk.counts)))[
        np.searchsorted(upper, points, "right")] / n
    cur_below = np.searchsorted(cur, points, "left")
    cur_cdf = cur_below / m
    d = float(np.max(np.abs(ref_cdf - cur_cdf)))
    in_bucket = np.isin(points[:-1], lower)  # interval [p_j, p_j+1) is a bucket, not a gap
    mass = np.maximum(np.diff(ref_cdf), np.diff(cur_cdf))
    d_err = float(mass[in_bucket].max()) if in_bucket.any() else 0.0
    inner, inner_err = st.wasserstein_grid(points, ref_cdf, cur_cdf)
    # beyond the reference's range the reference CDF is 0 (below) or 1 (above): exact sums
    lo_n, hi_n = int(cur_below[0]), int(cur_below[-1])
    below = float(points[0] * lo_n - cur[:lo_n].sum()) / m
    above = float(cur[hi_n:].sum() - points[-1] * (cur.size - hi_n)) / m
    return d, d_err, inner + below + above, inner_err


def _numeric_display(ref: NumericProfile, cur: F64) -> dict[str, Any]:
    """Shares of reference and current in 30 equal-width bins between the 0.5% and 99.5%
    quantiles of either side (values beyond fall in the end bins)."""
    m = cur.size
    lo = min(ref.sketch.quantile(0.005), float(cur[int(0.005 * (m - 1))]))
    hi = max(ref.sketch.quantile(0.995), float(cur[math.ceil(0.995 * (m - 1))]))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, DISPLAY_BINS + 1)
    inner = edges[1:-1]
    sk = ref.sketch
    cum = np.concatenate(([0], np.cumsum(sk.counts))).astype(np.float64)
    lower, upper = sk.lower(), sk.upper()
    i = np.clip(np.searchsorted(lower, inner, "right") - 1, 0, None)
    with np.errstate(all="ignore"):
        frac = np.clip(np.where(upper[i] > lower[i], (inner - lower[i]) / (upper[i] - lower[i]),
                                1.0), 0.0, 1.0)
    ref_below = np.where(inner < lower[0], 0.0, cum[i] + sk.counts[i] * frac)
    ref_share = np.diff(np.concatenate(([0.0], ref_below, [cum[-1]]))) / max(cum[-1], 1.0)
    cur_below = np.searchsorted(cur, inner, "left").astype(np.float64)
    cur_share = np.diff(np.concatenate(([0.0], cur_below, [float(m)]))) / max(m, 1)
    return {"type": "bins", "edges": edges.tolist(), "reference": ref_share.tolist(),
            "current": cur_share.tolist()}
