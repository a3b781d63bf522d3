"""Drift statistics, vectorised over numpy arrays (no per-row Python).

Definitions (the numbers every test pins down):

- **KS**: the two-sample Kolmogorov-Smirnov statistic ``D = max |F_ref - F_cur|`` and its
  two-sided p-value, as ``scipy.stats.ks_2samp(method='auto')``: when both samples have at most
  10,000 values scipy itself is called (its exact distribution); above that ``D`` is computed
  here the way scipy does and the p-value is scipy's asymptotic ``kstwo.sf(D, round(n*m/(n+m)))``,
  which is what ``ks_2samp`` does at that size.
- **Wasserstein (normed)**: ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 0.001)``
  with the population standard deviation (ddof=0), as Evidently's ``wasserstein`` test.
- **PSI**: ``sum((p_cur - p_ref) * ln(p_cur / p_ref))`` over bins, where a bin share of zero
  is replaced by ``PSI_EPSILON`` (1e-4) on either side.
- **Jensen-Shannon distance**: ``scipy.spatial.distance.jensenshannon(p_ref, p_cur)`` with the
  natural logarithm (scipy's default base; the distance lies in [0, sqrt(ln 2)] ~ [0, 0.833]),
  on the same bins and without any epsilon.
- **chi-square**: ``scipy.stats.chisquare(f_obs=cur_counts, f_exp=ref_counts * n_cur / n_ref)``
  over the union of categories; a category absent from the reference but present in the
  current data gives an infinite statistic and p = 0.
- **homogeneity**: Pearson's chi-square test of homogeneity of the 2 x k table of both
  sides' counts (``scipy.stats.chi2_contingency(table, correction=False)`` over the
  categories seen on either side), for two samples: a category seen on one side only counts
  by how often it was seen.
- **z-test** (binary columns): the two-proportion z-test with a pooled variance, two-sided,
  ``p = 2 * (1 - Phi(|z|))``, as Evidently's ``z`` test.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["PSI_EPSILON", "SCIPY_EXACT_MAX", "chisquare", "homogeneity", "jensenshannon",
           "ks_wasserstein", "kstwo_pvalue", "psi", "wasserstein_grid", "z_test"]

PSI_EPSILON = 1e-4
SCIPY_EXACT_MAX = 10_000  # ks_2samp(method='auto') is exact up to this many values per side

F64 = NDArray[np.float64]
Counts = NDArray[np.int64] | NDArray[np.float64]


def _shares(counts: Counts) -> F64:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


def psi(ref_counts: Counts, cur_counts: Counts, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two aligned count vectors."""
    pr = np.maximum(_shares(ref_counts), epsilon)
    pc = np.maximum(_shares(cur_counts), epsilon)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


def jensenshannon(ref_counts: Counts, cur_counts: Counts) -> float:
    """Jensen-Shannon distance (natural log) of two aligned count vectors."""
    p, q = _shares(ref_counts), _shares(cur_counts)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0)
    js = (kl_p.sum() + kl_q.sum()) / 2.0
    return float(math.sqrt(max(js, 0.0)))


def chisquare(ref_counts: Counts, cur_counts: Counts) -> tuple[float, float]:
    """Chi-square goodness of fit of the current counts to the reference proportions."""
    from scipy.stats import chi2

    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    if ref.size < 2:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    if np.any((expected == 0) & (cur > 0)):
        return math.inf, 0.0
    keep = expected > 0
    stat = float(np.sum((cur[keep] - expected[keep]) ** 2 / expected[keep]))
    return stat, float(chi2.sf(stat, ref.size - 1))


def homogeneity(ref_counts: Counts, cur_counts: Counts) -> tuple[float, float]:
    """Pearson's chi-square test of homogeneity on the 2 x k table of both samples' counts
    (``scipy.stats.chi2_contingency`` without Yates' correction): both sides are samples, so
    a category seen on one side only is weighed by its counts, not taken as impossible."""
    from scipy.stats import chi2

    table = np.vstack([np.asarray(ref_counts, dtype=np.float64),
                       np.asarray(cur_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(chi2.sf(stat, table.shape[1] - 1))


def z_test(ref_counts: Counts, cur_counts: Counts) -> tuple[float, float]:
    """Two-proportion z-test on the share of the first of two categories."""
    from scipy.stats import norm

    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    n1, n2 = ref.sum(), cur.sum()
    p1, p2 = ref[0] / n1, cur[0] / n2
    pooled = (ref[0] + cur[0]) / (n1 + n2)
    if pooled in (0.0, 1.0):  # one category on both sides: nothing differs
        return 0.0, 1.0
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(z), float(2 * (1 - norm.cdf(abs(z))))


def kstwo_pvalue(d: float, n: int, m: int) -> float:
    """scipy's asymptotic two-sided p-value of a two-sample KS statistic."""
    from scipy.stats import kstwo

    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    return float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_wasserstein(ref_sorted: F64, cur_sorted: F64, *,
                   p_value: bool = True) -> tuple[float, float | None, float]:
    """(KS statistic, KS p-value, Wasserstein-1 distance) of two sorted finite samples.

    Above 10,000 values a side the p-value (scipy's ``kstwo.sf`` costs tens of milliseconds
    at a million values) is only computed when ``p_value`` is true; otherwise it is None.
    """
    n, m = ref_sorted.size, cur_sorted.size
    if max(n, m) <= SCIPY_EXACT_MAX:
        from scipy.stats import ks_2samp, wasserstein_distance

        res = ks_2samp(ref_sorted, cur_sorted)
        return (float(res.statistic), float(res.pvalue),
                float(wasserstein_distance(ref_sorted, cur_sorted)))
    both = np.concatenate([ref_sorted, cur_sorted])
    order = np.argsort(both, kind="stable")  # a merge of two sorted runs
    both = both[order]
    is_ref = order < n
    del order
    # shares of each sample at or below each position: the same divisions scipy makes
    diff = np.cumsum(is_ref, dtype=np.float64)
    cur_le = np.arange(1, n + m + 1, dtype=np.float64)
    cur_le -= diff
    diff /= n
    cur_le /= m
    diff -= cur_le
    del cur_le, is_ref
    # within a run of equal values only its last position counts every tied value
    last = np.empty(n + m, dtype=bool)
    np.not_equal(both[1:], both[:-1], out=last[:-1])
    last[-1] = True
    at = diff if last.all() else diff[last]  # no ties: every position counts
    d = float(max(at.max(), np.clip(-at.min(), 0, 1)))
    del at, last
    gaps = np.diff(both)
    np.abs(diff, out=diff)
    w = float(np.vecdot(diff[:-1], gaps))
    return d, (kstwo_pvalue(d, n, m) if p_value else None), w


def wasserstein_grid(points: F64, ref_below: F64, cur_below: F64) -> tuple[float, float]:
    """Wasserstein-1 between two distributions known by their CDFs at ``points`` (shares of
    values below each point), linear between points; returns (distance, error bound).

    The bound is ``sum(width * (ref share + cur share))`` over the intervals: within one the
    true CDFs may sit anywhere between their values at its ends.
    """
    widths = np.diff(points)
    d0 = (ref_below - cur_below)[:-1]
    d1 = (ref_below - cur_below)[1:]
    a0, a1 = np.abs(d0), np.abs(d1)
    same = (d0 * d1) >= 0
    with np.errstate(all="ignore"):
        crossing = np.where(a0 + a1 > 0, (d0 ** 2 + d1 ** 2) / (2 * (a0 + a1)), 0.0)
    area = np.where(same, (a0 + a1) / 2, crossing)
    dist = float(np.sum(widths * area))
    bound = float(np.sum(widths * (np.diff(ref_below) + np.diff(cur_below))))
    return dist, bound
