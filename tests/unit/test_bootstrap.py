"""The one bootstrap engine (``airlock.evaluation._bootstrap``): seeding, multinomial counts,
Poisson weights, percentile and ratio CIs, and the JSON summaries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

import airlock.evaluation as evaluation
from airlock.evaluation import _bootstrap, _regression
from airlock.evaluation._bootstrap import (
    paired_p_value,
    percentile_ci,
    poisson_group_sums,
    poisson_weights,
    ratio_ci,
    resample_counts,
    rng_for,
)

Arr = np.ndarray[Any, Any]


def test_the_engine_is_public_through_evaluation() -> None:
    for name in ("rng_for", "resample_counts", "percentile_ci", "ratio_ci", "paired_p_value",
                 "BOOTSTRAP_CHUNK_ELEMENTS"):
        assert name in evaluation.__all__, name
    assert evaluation.rng_for is rng_for
    assert evaluation.ratio_ci is ratio_ci
    assert evaluation.BOOTSTRAP_CHUNK_ELEMENTS == _bootstrap.CHUNK_ELEMENTS


def test_rng_for_is_seeded_per_part() -> None:
    a = rng_for(3, "slices", "age").random(4)
    assert np.array_equal(a, rng_for(3, "slices", "age").random(4))
    assert not np.array_equal(a, rng_for(3, "slices", "sex").random(4))
    assert not np.array_equal(a, rng_for(4, "slices", "age").random(4))


def test_resample_counts_are_multinomial_and_independent_of_the_chunk_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    counts = np.array([5, 0, 12, 3, 30])
    whole = np.concatenate(list(resample_counts(rng_for(1, "t"), counts, 70)))
    assert whole.shape == (70, 5) and whole.dtype == np.float64
    assert np.all(whole.sum(axis=1) == counts.sum())
    assert np.all(whole[:, 1] == 0)
    monkeypatch.setattr(_bootstrap, "CHUNK_ELEMENTS", 5 * 3)  # three resamples per chunk
    chunks = list(resample_counts(rng_for(1, "t"), counts, 70))
    assert max(len(c) for c in chunks) == 3
    assert np.array_equal(np.concatenate(chunks), whole)
    assert list(resample_counts(rng_for(1, "t"), counts, 0)) == []


def test_poisson_weights_have_the_poisson_distribution() -> None:
    w = poisson_weights(np.random.default_rng(0), 4000, 500)
    assert w.shape == (4000, 500) and w.dtype == np.float64
    assert w.mean() == pytest.approx(1.0, abs=2e-3)
    assert w.var() == pytest.approx(1.0, abs=5e-3)
    freq = np.bincount(w.astype(np.int64).ravel(), minlength=6)[:6] / w.size
    pmf = np.exp(-1.0) / np.array([1, 1, 2, 6, 24, 120])
    assert freq == pytest.approx(pmf, abs=2e-3)
    again = poisson_weights(np.random.default_rng(0), 4000, 500)
    assert np.array_equal(w, again)


def test_poisson_group_sums_in_chunks_equal_one_weighted_sum(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks split groups: the segment matmuls must add up to the full weighted sums, and
    the result does not depend on the chunk size nor on the row order."""
    rng = np.random.default_rng(0)
    n, groups, boots = 103, 6, 50
    codes = rng.integers(0, groups, n)
    codes[codes == 4] = 5  # an empty group in the middle
    values = rng.normal(size=(n, 3))
    whole = poisson_group_sums(np.random.default_rng(9), values, codes, groups, boots)
    w = poisson_weights(np.random.default_rng(9), n, boots)
    order = np.lexsort((*values.T[::-1], codes))
    for g in range(groups):
        rows = np.flatnonzero(codes[order] == g)
        expected = w[rows].T @ values[order][rows]
        assert np.allclose(whole[:, g], expected, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(_bootstrap, "CHUNK_ELEMENTS", 8 * boots)  # 8 rows per chunk
    chunked = poisson_group_sums(np.random.default_rng(9), values, codes, groups, boots)
    assert np.allclose(chunked, whole, rtol=1e-12, atol=1e-12)
    perm = rng.permutation(n)
    shuffled = poisson_group_sums(np.random.default_rng(9), values[perm], codes[perm], groups,
                                  boots)
    assert np.allclose(shuffled, whole, rtol=1e-12, atol=1e-12)


def test_poisson_bootstrap_agrees_with_row_resampling() -> None:
    rng = np.random.default_rng(4)
    n, boots = 300, 3000
    y = rng.gamma(2.0, 10.0, n)
    pred = y + rng.standard_t(4, n) * 3
    idx = rng.integers(0, n, size=(boots, n))
    brute = {"mae": np.abs(y - pred)[idx].mean(1),
             "rmse": np.sqrt(((y - pred) ** 2)[idx].mean(1)),
             "r2": np.array([skm.r2_score(y[i], pred[i]) for i in idx[:1000]])}
    sums = poisson_group_sums(
        np.random.default_rng(1),
        np.column_stack([np.ones(n), *_regression._centred(y, np.zeros(n, int), 1),
                         *_regression._errors(y, pred)]),
        np.zeros(n, np.int64), 1, boots)
    samples = _regression._from_sums(sums)
    for name, ref in brute.items():
        got = samples[name][:, 0]
        assert got.std() == pytest.approx(ref.std(), rel=0.1), name
        assert abs(got.mean() - ref.mean()) < 4 * ref.std() / np.sqrt(len(ref)) + 0.02 * ref.std()


def test_percentile_ci_ignores_nan_and_handles_no_samples() -> None:
    s = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    low, high = percentile_ci(s, 0.5)
    assert low[0] == pytest.approx(1.5) and high[0] == pytest.approx(2.5)
    assert np.isnan(low[1]) and np.isnan(high[1])
    low, high = percentile_ci(np.empty((0, 3)), 0.9)
    assert low.shape == (3,) and np.isnan(low).all() and np.isnan(high).all()


def test_ratio_ci_is_the_row_bootstrap_of_a_ratio_of_sums() -> None:
    rng = np.random.default_rng(2)
    n = 400
    den = (rng.random(n) < 0.6).astype(float)
    num = den * (rng.random(n) < 0.7)
    zero = np.zeros(n)
    value, low, high = ratio_ci(np.column_stack([num, zero]), np.column_stack([den, zero]),
                                rng=rng_for(0, "ratio"), n_boot=2000, confidence=0.95)
    assert value[0] == pytest.approx(num.sum() / den.sum())
    assert np.isnan(value[1]) and np.isnan(low[1]) and np.isnan(high[1])
    idx = np.random.default_rng(5).integers(0, n, size=(2000, n))
    brute = num[idx].sum(1) / den[idx].sum(1)
    ref_low, ref_high = np.quantile(brute, [0.025, 0.975])
    assert low[0] == pytest.approx(ref_low, abs=0.01)
    assert high[0] == pytest.approx(ref_high, abs=0.01)
    again = ratio_ci(num[:, None], den[:, None], rng=rng_for(0, "ratio"), n_boot=2000,
                     confidence=0.95)
    assert again[1][0] == low[0] and again[2][0] == high[0]
    none = ratio_ci(num[:, None], den[:, None], rng=rng_for(0, "ratio"), n_boot=0,
                    confidence=0.95)
    assert np.isnan(none[1]).all() and none[0][0] == value[0]


def test_paired_p_value_treats_rounding_noise_as_no_difference() -> None:
    deltas = np.array([[0.1], [-0.1], [0.0], [0.2]])
    noisy = deltas + np.array([[0.0], [0.0], [1e-17], [0.0]])
    assert paired_p_value(deltas)[0] == paired_p_value(noisy)[0] == 1.0
    assert paired_p_value(np.array([[0.1], [0.2], [0.3], [-0.1]]))[0] == 0.5
