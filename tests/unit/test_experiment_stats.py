"""The experiment statistics, checked by simulation and against oracles.

Simulations are vectorised over experiments: aggregates are drawn directly (binomial counts
per peek), and the analysis' own kernels (``lift_arrays``, the ones ``analyze`` calls) run
on all of them at once. Oracles: statsmodels (Welch's t on raw rows) and GrowthBook's
``gbstats`` frequentist engine (fixed-horizon and sequential tests, ratio and CUPED
statistics) on the same aggregates.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from airlock.experiments import analyze
from airlock.experiments._compare import lift_arrays
from airlock.experiments._stats import holm, srm_test

ALPHA = 0.05
N_EXP, PEEKS, PER_PEEK = 1000, 20, 500  # 1,000 A/A experiments, 20 looks, 500 units a look


def _mc(p: float, n: int) -> float:
    """Three Monte Carlo standard errors of a rate p estimated from n experiments."""
    return 3.0 * float(np.sqrt(p * (1 - p) / n))


def _binary_moments(successes: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = successes / n
    var = (successes - successes ** 2 / n) / (n - 1)  # 0/1 rows: sum of squares = sum
    return mean, var


@pytest.fixture(scope="module")
def aa() -> dict[str, np.ndarray]:
    """Cumulative successes per (experiment, peek, variant) of an A/A test at p = 0.8."""
    rng = np.random.default_rng(2024)
    draws = rng.binomial(PER_PEEK, 0.8, size=(N_EXP, PEEKS, 2)).astype(np.float64)
    n = PER_PEEK * np.arange(1, PEEKS + 1, dtype=np.float64)[None, :]
    return {"s": np.cumsum(draws, axis=1), "n": np.broadcast_to(n, (N_EXP, PEEKS))}


def _p_values(aa: dict[str, np.ndarray], sequential: bool) -> np.ndarray:
    ma, va = _binary_moments(aa["s"][..., 0], aa["n"])
    mb, vb = _binary_moments(aa["s"][..., 1], aa["n"])
    r = lift_arrays(ma, va, aa["n"], mb, vb, aa["n"], ALPHA, sequential, 5000.0)
    return np.asarray(r.p)


def test_aa_sequential_false_positive_rate_at_20_peeks_is_at_most_alpha(aa) -> None:
    p = _p_values(aa, sequential=True)
    fpr = float((p.min(axis=1) < ALPHA).mean())  # rejected at any of the 20 looks
    assert fpr <= ALPHA + _mc(ALPHA, N_EXP)


def test_aa_fixed_horizon_is_alpha_at_one_look_and_inflates_when_peeking(aa) -> None:
    p = _p_values(aa, sequential=False)
    one_look = float((p[:, -1] < ALPHA).mean())
    assert abs(one_look - ALPHA) <= _mc(ALPHA, N_EXP)
    peeking = float((p.min(axis=1) < ALPHA).mean())
    assert peeking > ALPHA + _mc(ALPHA, N_EXP)  # why the sequential mode exists


def test_sequential_intervals_cover_at_every_look(aa) -> None:
    ma, va = _binary_moments(aa["s"][..., 0], aa["n"])
    mb, vb = _binary_moments(aa["s"][..., 1], aa["n"])
    r = lift_arrays(ma, va, aa["n"], mb, vb, aa["n"], ALPHA, True, 5000.0)
    missed = ((np.asarray(r.low) > 0) | (np.asarray(r.high) < 0)).any(axis=1).mean()
    assert missed <= ALPHA + _mc(ALPHA, N_EXP)


def _accuracy_table(n: int, p: tuple[float, float], seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    route = np.repeat(["primary", "canary"], n)
    label = rng.integers(0, 2, 2 * n)
    hit = rng.random(2 * n) < np.repeat(p, n)
    return pl.DataFrame({"route": route, "label": label,
                         "prediction": np.where(hit, label, 1 - label)})


def test_power_at_the_reported_sample_size_is_80_percent() -> None:
    pilot = analyze(_accuracy_table(5000, (0.80, 0.82), 1), metrics=["accuracy"], mde=0.02)
    needed = pilot.comparison("accuracy").needed_per_variant
    assert needed is not None and 4000 < needed < 9000
    sims = 20_000
    rng = np.random.default_rng(7)
    n = np.full(sims, float(needed))
    sa = rng.binomial(needed, 0.80, sims).astype(np.float64)
    sb = rng.binomial(needed, 0.82, sims).astype(np.float64)
    (ma, va), (mb, vb) = _binary_moments(sa, n), _binary_moments(sb, n)
    r = lift_arrays(ma, va, n, mb, vb, n, ALPHA, False, 5000.0)
    found = float(((np.asarray(r.p) < ALPHA) & (np.asarray(r.lift) > 0)).mean())
    assert found >= 0.80 - _mc(0.80, sims)


def test_srm_52_48_on_20k_is_flagged_and_50_50_is_not() -> None:
    t = pl.DataFrame({"route": ["primary"] * 10_400 + ["canary"] * 9_600,
                      "ok": np.zeros(20_000)})
    r = analyze(t, metrics=["mean(ok)"], expected_split={"primary": 0.5, "canary": 0.5})
    assert r.srm.flagged and r.srm.observed == {"primary": 10_400, "canary": 9_600}
    assert r.comparison("mean(ok)").lift is None  # withheld
    assert srm_test([10_050, 9_950], [0.5, 0.5]) > 0.001


def test_holm_steps_down() -> None:
    assert holm(np.array([0.01, 0.04, 0.03]), 0.05).tolist() == [True, False, False]
    assert holm(np.array([0.01, 0.02, 0.03]), 0.05).tolist() == [True, True, True]
    assert holm(np.array([0.2, np.nan]), 0.05).tolist() == [False, False]


# -- oracles --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    route = rng.choice(["primary", "canary"], n)
    pre = rng.gamma(2.0, 5.0, n)
    y = pre * 0.8 + rng.normal(0, 3, n) + np.where(route == "canary", 0.6, 0.0)
    ok = (rng.random(n) < np.where(route == "canary", 0.34, 0.30)).astype(np.int64)
    return pl.DataFrame({"route": route, "y": y, "ok": ok, "pre": pre,
                         "user": rng.integers(0, 900, n).astype(str)})


def _sums(rows: pl.DataFrame, col: str, variant: str) -> tuple[int, float, float]:
    v = rows.filter(pl.col("route") == variant)[col].to_numpy().astype(np.float64)
    return len(v), float(v.sum()), float((v * v).sum())


def test_welch_matches_statsmodels(rows: pl.DataFrame) -> None:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    c = analyze(rows, metrics=["mean(y)"]).comparison("mean(y)")
    a = rows.filter(pl.col("route") == "primary")["y"].to_numpy()
    b = rows.filter(pl.col("route") == "canary")["y"].to_numpy()
    cm = CompareMeans(DescrStatsW(b), DescrStatsW(a))
    _, p, _ = cm.ttest_ind(usevar="unequal")
    lo, hi = cm.tconfint_diff(alpha=ALPHA, usevar="unequal")
    assert c.p_value == pytest.approx(p, rel=1e-9)
    assert (c.lift_ci_low, c.lift_ci_high) == pytest.approx((lo, hi), rel=1e-9)


@pytest.mark.parametrize("col", ["y", "ok"])
def test_fixed_horizon_matches_gbstats(rows: pl.DataFrame, col: str) -> None:
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic

    a = SampleMeanStatistic(*_sums(rows, col, "primary"))
    b = SampleMeanStatistic(*_sums(rows, col, "canary"))
    c = analyze(rows, metrics=[f"mean({col})"]).comparison(f"mean({col})")
    absolute = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")) \
        .compute_result()
    relative = TwoSidedTTest(a, b, FrequentistConfig(difference_type="relative")) \
        .compute_result()
    assert c.lift == pytest.approx(absolute.expected, rel=1e-9)
    assert (c.lift_ci_low, c.lift_ci_high) == pytest.approx(tuple(absolute.ci), rel=1e-9)
    assert c.p_value == pytest.approx(absolute.p_value, rel=1e-7)
    assert c.relative_lift == pytest.approx(relative.expected, rel=1e-9)
    assert (c.relative_ci_low, c.relative_ci_high) == pytest.approx(tuple(relative.ci),
                                                                   rel=1e-9)


def test_sequential_matches_gbstats(rows: pl.DataFrame) -> None:
    from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
    from gbstats.models.statistics import SampleMeanStatistic

    a = SampleMeanStatistic(*_sums(rows, "y", "primary"))
    b = SampleMeanStatistic(*_sums(rows, "y", "canary"))
    cfg = SequentialConfig(difference_type="absolute", sequential_tuning_parameter=2000)
    g = SequentialTwoSidedTTest(a, b, cfg).compute_result()
    c = analyze(rows, metrics=["mean(y)"], sequential=True, tuning=2000) \
        .comparison("mean(y)")
    assert (c.lift_ci_low, c.lift_ci_high) == pytest.approx(tuple(g.ci), rel=1e-9)
    assert c.p_value == pytest.approx(g.p_value, rel=1e-7)


def test_ratio_metric_matches_gbstats(rows: pl.DataFrame) -> None:
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import RatioStatistic, SampleMeanStatistic

    per_user = rows.group_by(["route", "user"]).agg(pl.col("y").sum().alias("num"),
                                                    pl.len().alias("den"))

    def stat(variant: str) -> RatioStatistic:
        u = per_user.filter(pl.col("route") == variant)
        num, den = u["num"].to_numpy(), u["den"].to_numpy().astype(np.float64)
        return RatioStatistic(
            n=len(u), m_statistic=SampleMeanStatistic(len(u), num.sum(), (num ** 2).sum()),
            d_statistic=SampleMeanStatistic(len(u), den.sum(), (den ** 2).sum()),
            m_d_sum_of_products=float((num * den).sum()))

    g = TwoSidedTTest(stat("primary"), stat("canary"),
                      FrequentistConfig(difference_type="absolute")).compute_result()
    c = analyze(rows, metrics=["mean(y)"], unit="user").comparison("mean(y)")
    assert "delta method" in c.method
    assert c.lift == pytest.approx(g.expected, rel=1e-9)
    assert (c.lift_ci_low, c.lift_ci_high) == pytest.approx(tuple(g.ci), rel=1e-7)


def test_cuped_matches_gbstats(rows: pl.DataFrame) -> None:
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import (
        RegressionAdjustedStatistic,
        SampleMeanStatistic,
        compute_theta,
    )

    def stat(variant: str) -> RegressionAdjustedStatistic:
        v = rows.filter(pl.col("route") == variant)
        y, x = v["y"].to_numpy(), v["pre"].to_numpy()
        return RegressionAdjustedStatistic(
            n=len(v), post_statistic=SampleMeanStatistic(len(v), y.sum(), (y * y).sum()),
            pre_statistic=SampleMeanStatistic(len(v), x.sum(), (x * x).sum()),
            post_pre_sum_of_products=float((x * y).sum()), theta=0.0)

    a, b = stat("primary"), stat("canary")
    theta = compute_theta(a, b)
    a.theta = b.theta = theta
    g = TwoSidedTTest(a, b, FrequentistConfig(difference_type="absolute")).compute_result()
    r = analyze(rows, metrics=["mean(y)"], covariate="pre")
    c = r.comparison("mean(y)")
    assert r.cuped is not None
    assert r.cuped["metrics"]["mean(y)"]["theta"] == pytest.approx(theta, rel=1e-9)
    assert c.lift == pytest.approx(g.expected, rel=1e-9)
    assert (c.lift_ci_low, c.lift_ci_high) == pytest.approx(tuple(g.ci), rel=1e-7)
