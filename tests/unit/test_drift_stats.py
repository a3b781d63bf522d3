"""Drift statistics against their oracles: KS and Wasserstein against scipy (several sizes,
with ties, on both sides of scipy's exact/asymptotic switch), PSI and Jensen-Shannon against
fixtures computed by hand, chi-square against scipy.stats.chisquare, z against its formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sst
from scipy.spatial.distance import jensenshannon as scipy_js

from airlock.monitor import _stats as st
from airlock.monitor._columns import default_method


@pytest.mark.parametrize(("n", "m", "ties"), [
    (5, 7, False), (40, 40, True), (800, 1200, True), (9000, 10_000, False),
    (12_000, 30_000, False), (25_000, 11_000, True), (50_000, 50_000, True),
])
def test_ks_and_wasserstein_equal_scipy(n: int, m: int, ties: bool) -> None:
    rng = np.random.default_rng(n + m)
    a = rng.normal(0.0, 1.0, n)
    b = rng.normal(0.15, 1.1, m)
    if ties:  # heavy ties inside and across the samples
        a, b = np.round(a, 1), np.round(b, 1)
    d, p, w = st.ks_wasserstein(np.sort(a), np.sort(b))
    ref = sst.ks_2samp(a, b)
    assert d == pytest.approx(float(ref.statistic), rel=0, abs=1e-15)
    assert p == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-300)
    assert w == pytest.approx(sst.wasserstein_distance(a, b), rel=1e-12)


def test_large_ks_p_value_is_only_computed_when_asked() -> None:
    rng = np.random.default_rng(1)
    a, b = np.sort(rng.normal(size=20_000)), np.sort(rng.normal(size=20_000))
    d, p, _ = st.ks_wasserstein(a, b, p_value=False)
    assert p is None
    assert d == pytest.approx(float(sst.ks_2samp(a, b).statistic), abs=1e-15)
    assert st.kstwo_pvalue(d, a.size, b.size) == pytest.approx(float(sst.ks_2samp(a, b).pvalue))


def test_identical_samples_have_zero_distance() -> None:
    x = np.sort(np.random.default_rng(2).normal(size=15_000))
    d, p, w = st.ks_wasserstein(x, x.copy())
    assert (d, w) == (0.0, 0.0)
    assert p == 1.0


def test_psi_hand_computed() -> None:
    # shares ref (0.5, 0.3, 0.2), cur (0.4, 0.4, 0.2):
    # (0.4-0.5) ln(0.4/0.5) + (0.4-0.3) ln(0.4/0.3) + 0 = 0.0223144 + 0.0287682
    expected = -0.1 * math.log(0.8) + 0.1 * math.log(4 / 3)
    assert st.psi([50, 30, 20], [40, 40, 20]) == pytest.approx(expected, rel=1e-12)
    assert st.psi([50, 30, 20], [40, 40, 20]) == pytest.approx(0.05108256, abs=1e-8)
    # an empty bin counts as a share of 1e-4: ref (0.5, 0.5, 0), cur (0.5, 0.25, 0.25)
    by_hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - 1e-4) * math.log(0.25 / 1e-4)
    assert st.psi([2, 2, 0], [2, 1, 1]) == pytest.approx(by_hand, rel=1e-12)
    assert st.psi([1, 2, 3], [2, 4, 6]) == 0.0


def test_jensenshannon_hand_computed() -> None:
    # p = (1, 0), q = (0, 1): M = (0.5, 0.5); JS divergence = ln 2; distance = sqrt(ln 2)
    assert st.jensenshannon([3, 0], [0, 5]) == pytest.approx(math.sqrt(math.log(2)), rel=1e-12)
    # p = (0.5, 0.5), q = (1, 0): M = (0.75, 0.25)
    # KL(p|M) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25); KL(q|M) = ln(1/0.75)
    kl_p = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2)
    kl_q = math.log(4 / 3)
    expected = math.sqrt((kl_p + kl_q) / 2)
    assert st.jensenshannon([1, 1], [4, 0]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.4645014, abs=1e-7)
    assert st.jensenshannon([1, 2], [2, 4]) == pytest.approx(0.0, abs=1e-12)


def test_jensenshannon_equals_scipy_on_the_same_bins() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
        a[rng.integers(0, 12)] = 0
        assert st.jensenshannon(a, b) == pytest.approx(float(scipy_js(a, b)), rel=1e-9,
                                                       abs=1e-12)


def test_chisquare_equals_scipy() -> None:
    ref = np.array([120, 300, 80, 500])
    cur = np.array([30, 70, 40, 60])
    stat, p = st.chisquare(ref, cur)
    expected = sst.chisquare(cur, ref * cur.sum() / ref.sum())
    assert stat == pytest.approx(float(expected.statistic), rel=1e-12)
    assert p == pytest.approx(float(expected.pvalue), rel=1e-9)
    # a category the reference never had: infinite statistic, p = 0 (as scipy: inf, 0)
    assert st.chisquare(np.array([10, 10, 0]), np.array([5, 5, 3])) == (math.inf, 0.0)
    assert st.chisquare(np.array([7]), np.array([9])) == (0.0, 1.0)


def test_homogeneity_equals_scipy_contingency() -> None:
    ref, cur = np.array([30, 12, 0, 5]), np.array([25, 20, 2, 0])
    stat, p = st.homogeneity(ref, cur)
    want = sst.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert stat == pytest.approx(want.statistic)
    assert p == pytest.approx(want.pvalue)
    # a category on one side only is weighed by its counts, unlike the goodness of fit
    one_sided = st.homogeneity(np.array([10, 10, 0]), np.array([5, 5, 1]))
    assert st.chisquare(np.array([10, 10, 0]), np.array([5, 5, 1]))[1] == 0.0
    assert one_sided[1] > 0.1
    assert st.homogeneity(np.array([7, 0]), np.array([9, 0])) == (0.0, 1.0)
    assert st.homogeneity(np.array([0, 0]), np.array([9, 3])) == (0.0, 1.0)


def test_z_test_formula() -> None:
    # ref 30/100 first category, cur 50/100: pooled 0.4
    z, p = st.z_test(np.array([30, 70]), np.array([50, 50]))
    expected_z = (0.3 - 0.5) / math.sqrt(0.4 * 0.6 * (1 / 100 + 1 / 100))
    assert z == pytest.approx(expected_z, rel=1e-12)
    assert p == pytest.approx(2 * (1 - sst.norm.cdf(abs(expected_z))), rel=1e-12)
    assert st.z_test(np.array([10, 0]), np.array([4, 0])) == (0.0, 1.0)


def test_wasserstein_grid_exact_for_piecewise_linear_cdfs() -> None:
    # uniform(0, 1) against uniform(0.5, 1.5): W1 = 0.5; both CDFs linear between points
    points = np.array([0.0, 0.5, 1.0, 1.5])
    ref = np.array([0.0, 0.5, 1.0, 1.0])
    cur = np.array([0.0, 0.0, 0.5, 1.0])
    w, bound = st.wasserstein_grid(points, ref, cur)
    assert w == pytest.approx(0.5, rel=1e-12)
    # bound: sum(width * (ref share + cur share)) = 0.5*0.5 + 0.5*(0.5+0.5) + 0.5*0.5
    assert bound == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(("kind", "n", "k", "method"), [
    ("numerical", 1000, 50, "ks"), ("numerical", 1000, 5, "chisquare"),
    ("numerical", 500, 2, "z"), ("categorical", 999, 7, "chisquare"),
    ("categorical", 10, 2, "z"), ("numerical", 1001, 6, "wasserstein"),
    ("numerical", 5000, 5, "jensenshannon"), ("categorical", 2000, 40, "jensenshannon"),
])
def test_default_method_mirrors_evidently(kind: str, n: int, k: int, method: str) -> None:
    assert default_method(kind, n, k) == method
