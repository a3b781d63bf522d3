"""The statistics of an online experiment, as vectorised kernels over aggregates.

Every function takes numpy arrays (or scalars) of per-variant aggregates and works
element-wise, so the analysis of one experiment and a simulation of a million use the same
code. What they assume (the README's "Experiments" section says it for users):

- **Fixed horizon** (:func:`welch`): units are independent, the lift estimate is close to
  normal (the central limit theorem: enough units per variant), variances may differ
  (Welch's t with the Welch-Satterthwaite degrees of freedom, as GrowthBook's ``gbstats``).
  Valid at one look decided in advance.
- **Relative lift** (:func:`relative`): the delta method for ``(b - a) / a`` with independent
  variants (``gbstats``' formula); undefined when the control's mean is 0.
- **Ratio metrics** (:func:`ratio_moments`): ``sum(num) / sum(den)`` over units with the
  delta-method variance of a ratio of means (requests per user, say).
- **Sequential** (:func:`sequence_width`): the asymptotic confidence sequence of
  Waudby-Smith et al. (2023, eq. 9; a normal mixture boundary after Howard et al. 2021),
  valid at every look at once. ``tuning`` is the total sample size at which the sequence is
  tightest (``rho`` chosen for it, eq. 161); the always-valid p-value is ``1 / e-value``.
- **SRM** (:func:`srm_test`): Pearson's chi-square of the observed units per variant against
  the configured split.
- **CUPED** (:func:`cuped`): one pooled ``theta = cov(y, x) / var(x)`` over every variant;
  the covariate must be measured before exposure (so the treatment cannot move it).
- **Holm** (:func:`holm`): family-wise error control over the metrics of one comparison.
- **Non-inferiority** (:func:`non_inferiority`): a one-sided test that the harm is below a
  margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["DEFAULT_TUNING", "SRM_ALPHA", "cuped", "holm", "mean_ci", "non_inferiority",
           "ratio_moments", "relative", "sample_size", "sequence_p_value", "sequence_width",
           "srm_test", "welch", "welch_dof"]

Arr = np.ndarray[Any, Any]
SRM_ALPHA = 0.001
DEFAULT_TUNING = 5000.0


def _a(x: Any) -> Arr:
    return np.asarray(x, dtype=np.float64)


def welch_dof(va: Any, na: Any, vb: Any, nb: Any) -> Arr:
    """Welch-Satterthwaite degrees of freedom (inf where a variance term is 0)."""
    va, na, vb, nb = _a(va), _a(na), _a(vb), _a(nb)
    with np.errstate(all="ignore"):
        sa, sb = va / na, vb / nb
        dof = (sa + sb) ** 2 / (sa ** 2 / (na - 1) + sb ** 2 / (nb - 1))
    return np.where(np.isfinite(dof), dof, np.inf)


def welch(ma: Any, va: Any, na: Any, mb: Any, vb: Any, nb: Any,
          alpha: float) -> tuple[Arr, Arr, Arr, Arr]:
    """Difference ``mb - ma`` of two means with variances ``va``, ``vb`` (of one unit) over
    ``na``, ``nb`` units: ``(lift, ci_low, ci_high, p_value)``, Welch's two-sided t."""
    ma, va, na, mb, vb, nb = map(_a, (ma, va, na, mb, vb, nb))
    lift = mb - ma
    with np.errstate(all="ignore"):
        se = np.sqrt(va / na + vb / nb)
        dof = welch_dof(va, na, vb, nb)
        width = stats.t.ppf(1.0 - alpha / 2.0, dof) * se
        p = 2.0 * stats.t.sf(np.abs(lift / se), dof)
    p = np.where(se > 0, p, np.where(lift == 0, 1.0, 0.0))
    return lift, lift - width, lift + width, p


def relative(ma: Any, va: Any, na: Any, mb: Any, vb: Any, nb: Any) -> tuple[Arr, Arr]:
    """Relative lift ``(mb - ma) / ma`` and the delta-method variance of its estimate."""
    ma, va, na, mb, vb, nb = map(_a, (ma, va, na, mb, vb, nb))
    with np.errstate(all="ignore"):
        rel = (mb - ma) / ma
        var = vb / (ma ** 2 * nb) + va * mb ** 2 / (ma ** 4 * na)
    bad = ~np.isfinite(rel) | (ma == 0)
    return np.where(bad, np.nan, rel), np.where(bad, np.nan, var)


def mean_ci(m: Any, v: Any, n: Any, alpha: float) -> tuple[Arr, Arr]:
    """Two-sided t interval of a mean (variance ``v`` of one unit, ``n`` units)."""
    m, v, n = _a(m), _a(v), _a(n)
    with np.errstate(all="ignore"):
        width = stats.t.ppf(1.0 - alpha / 2.0, np.maximum(n - 1, 1)) * np.sqrt(v / n)
    return m - width, m + width


def ratio_moments(n: Any, s_num: Any, s_den: Any, ss_num: Any, ss_den: Any,
                  s_cross: Any) -> tuple[Arr, Arr]:
    """Ratio ``sum(num) / sum(den)`` over ``n`` units and the delta-method variance of one
    unit (divide by ``n`` for the ratio's variance)."""
    n, s_num, s_den, ss_num, ss_den, s_cross = map(_a, (n, s_num, s_den, ss_num, ss_den,
                                                        s_cross))
    with np.errstate(all="ignore"):
        mn, md = s_num / n, s_den / n
        vn = (ss_num - s_num ** 2 / n) / (n - 1)
        vd = (ss_den - s_den ** 2 / n) / (n - 1)
        cov = (s_cross - s_num * s_den / n) / (n - 1)
        ratio = mn / md
        var = vn / md ** 2 - 2.0 * mn * cov / md ** 3 + mn ** 2 * vd / md ** 4
    return ratio, np.maximum(var, 0.0)


def _rho(alpha: float, tuning: float) -> float:
    return float(np.sqrt((-2.0 * np.log(alpha) + np.log(-2.0 * np.log(alpha) + 1.0))
                         / tuning))


def sequence_width(var_estimate: Any, total: Any, alpha: float,
                   tuning: float = DEFAULT_TUNING) -> Arr:
    """Half-width of the two-sided asymptotic confidence sequence for an estimate whose
    variance is ``var_estimate`` after ``total`` units (Waudby-Smith et al. 2023, eq. 9)."""
    v, big_n = _a(var_estimate), _a(total)
    rho2 = _rho(alpha, tuning) ** 2
    with np.errstate(all="ignore"):
        s2 = v * big_n
        out: Arr = np.sqrt(s2) * np.sqrt(2.0 * (big_n * rho2 + 1.0)
                                         * np.log(np.sqrt(big_n * rho2 + 1.0) / alpha)
                                         / (big_n ** 2 * rho2))
    return out


def sequence_p_value(estimate: Any, var_estimate: Any, total: Any, alpha: float,
                     tuning: float = DEFAULT_TUNING) -> Arr:
    """The always-valid p-value ``min(1, 1 / e-value)`` of "no difference" (eq. 155)."""
    est, v, big_n = _a(estimate), _a(var_estimate), _a(total)
    rho2 = _rho(alpha, tuning) ** 2
    with np.errstate(all="ignore"):
        st2 = est ** 2 * big_n / v
        tr = big_n * rho2 + 1.0
        log_e = rho2 * st2 / (2.0 * tr) - 0.5 * np.log(tr)
        p = np.exp(-log_e)
    p = np.where(v > 0, p, np.where(est == 0, 1.0, 0.0))
    out: Arr = np.minimum(np.nan_to_num(p, nan=1.0), 1.0)
    return out


def srm_test(observed: Any, expected_share: Any) -> float:
    """Pearson chi-square p-value of the observed counts against the expected shares."""
    obs = _a(observed)
    share = _a(expected_share)
    share = share / share.sum()
    if obs.sum() <= 0 or len(obs) < 2:
        return 1.0
    expected = share * obs.sum()
    chi2 = float((((obs - expected) ** 2) / expected).sum())
    return float(stats.chi2.sf(chi2, len(obs) - 1))


def holm(p_values: Any, alpha: float) -> Arr:
    """Holm's step-down rejections (a bool per p-value; NaN p-values never reject)."""
    p = _a(p_values)
    out = np.zeros(p.shape, bool)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        if p[i] > alpha / (m - rank):
            break
        out[i] = True
    return out


def cuped(n: Arr, sy: Arr, syy: Arr, sx: Arr, sxx: Arr, sxy: Arr) -> tuple[Arr, Arr, float]:
    """CUPED per variant from sums: adjusted means, adjusted variances of one unit, and the
    pooled ``theta``. Arrays hold one entry per variant."""
    n, sy, syy, sx, sxx, sxy = map(_a, (n, sy, syy, sx, sxx, sxy))
    with np.errstate(all="ignore"):
        my, mx = sy / n, sx / n
        vy = (syy - sy ** 2 / n) / (n - 1)
        vx = (sxx - sx ** 2 / n) / (n - 1)
        cxy = (sxy - sx * sy / n) / (n - 1)
        tn = n.sum()
        pooled_vx = (sxx.sum() - sx.sum() ** 2 / tn) / (tn - 1)
        pooled_c = (sxy.sum() - sx.sum() * sy.sum() / tn) / (tn - 1)
        theta = float(pooled_c / pooled_vx) if pooled_vx > 0 else 0.0
        mean_x = sx.sum() / tn
        adj = my - theta * (mx - mean_x)
        var = np.maximum(vy + theta ** 2 * vx - 2.0 * theta * cxy, 0.0)
    return adj, var, theta


def non_inferiority(lift: Any, var_estimate: Any, margin: float, lower_is_better: bool,
                    alpha: float) -> tuple[Arr, Arr]:
    """One-sided test that the harm is below ``margin`` (in the metric's units): returns
    ``(p_value, bound)``, the bound being the one-sided ``1 - alpha`` limit on the harm side
    (upper for a lower-is-better metric). Non-inferior when ``p_value < alpha``."""
    est, v = _a(lift), _a(var_estimate)
    harm = est if lower_is_better else -est
    with np.errstate(all="ignore"):
        se = np.sqrt(v)
        z = (harm - margin) / se
        p = stats.norm.cdf(z)
        bound = harm + stats.norm.ppf(1.0 - alpha) * se
    bound = bound if lower_is_better else -bound
    return np.where(se > 0, p, np.where(harm < margin, 0.0, 1.0)), bound


def sample_size(var_a: Any, var_b: Any, mde: Any, alpha: float, power: float = 0.8) -> Arr:
    """Units per variant a two-sided fixed-horizon test needs to find a true lift of
    ``mde`` with probability ``power`` (normal approximation, rounded up)."""
    va, vb, d = _a(var_a), _a(var_b), _a(mde)
    z = stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)
    with np.errstate(all="ignore"):
        n: Arr = np.ceil(z ** 2 * (va + vb) / d ** 2)
    return n
