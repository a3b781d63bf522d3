"""Regression metrics: equal to scikit-learn (overall and per group), Poisson bootstrap.

Real data: UCI Adult (examples/data/adult.data.gz, see examples/data/README.md), predicting
``hours_per_week`` with a linear regression on the other numeric columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from sklearn import metrics as skm

from airlock.errors import InvalidInput
from airlock.evaluation._regression import RegressionTask
from airlock.evaluation._types import Target

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
TOL = 1e-12
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

Arr = np.ndarray[Any, Any]


def sklearn_metrics(y: Arr, pred: Arr) -> dict[str, float]:
    return {"mae": skm.mean_absolute_error(y, pred),
            "rmse": skm.root_mean_squared_error(y, pred),
            "r2": skm.r2_score(y, pred),
            "mape": skm.mean_absolute_percentage_error(y, pred)}


def check_against_sklearn(y: Arr, pred: Arr, codes: Arr, n_groups: int) -> None:
    task = RegressionTask()
    t = Target(y=y, pred=pred)
    overall = task.grouped(t, np.zeros(len(y), np.int64), 1, n_boot=0, seed=0, confidence=0.95)
    groups = task.grouped(t, codes, n_groups, n_boot=0, seed=0, confidence=0.95)
    cases = [(overall[0], np.ones(len(y), bool))]
    cases += [(groups[g], codes == g) for g in range(n_groups)]
    for result, m in cases:
        assert set(result) == {"mae", "rmse", "r2", "mape"}
        for name, value in sklearn_metrics(y[m], pred[m]).items():
            assert result[name]["value"] == pytest.approx(value, rel=TOL, abs=TOL), name


def _random_case(seed: int, n: int = 5000, groups: int = 5) -> tuple[Arr, Arr, Arr]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, groups, n).astype(np.int64)
    y = rng.normal(40 + 3 * codes, 12, n)
    pred = y + rng.normal(0.5 * codes, 4 + codes, n)
    return y, pred, codes


# ------------------------------------------------------------------- equal to scikit-learn

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_metrics_equal_sklearn_on_random_data(seed: int) -> None:
    check_against_sklearn(*_random_case(seed), 5)


def test_point_metrics_equal_sklearn_with_zero_targets_and_a_large_offset() -> None:
    """MAPE uses max(|y|, eps) as scikit-learn does; R² is stable when the mean is large."""
    y, pred, codes = _random_case(3)
    y[::50] = 0.0
    check_against_sklearn(y, pred, codes, 5)
    check_against_sklearn(y * 0.01 + 1e4, pred * 0.01 + 1e4, codes, 5)


@pytest.fixture(scope="module")
def adult_hours() -> tuple[Arr, Arr, dict[str, Arr]]:
    from sklearn.linear_model import LinearRegression

    df = pd.read_csv(DATA / "adult.data.gz", header=None, names=ADULT_COLUMNS,
                     skipinitialspace=True)
    x = df[["age", "education_num", "capital_gain", "capital_loss"]].to_numpy(np.float64)
    y = df["hours_per_week"].to_numpy(np.float64)
    pred = LinearRegression().fit(x, y).predict(x)
    groups = {c: np.asarray(pd.Categorical(df[c]).codes, dtype=np.int64)
              for c in ("sex", "race", "education")}
    return y, pred, groups


@pytest.mark.parametrize("column", ["sex", "race", "education"])
def test_point_metrics_equal_sklearn_on_adult(adult_hours: tuple[Arr, Arr, dict[str, Arr]],
                                              column: str) -> None:
    y, pred, groups = adult_hours
    codes = groups[column]
    check_against_sklearn(y, pred, codes, int(codes.max()) + 1)


def test_r2_edge_cases_follow_sklearn_force_finite() -> None:
    y = np.array([3.0, 3.0, 3.0, 1.0, 2.0, 5.0, 7.0])
    pred = np.array([3.0, 3.0, 3.0, 1.5, 2.0, 4.0, 7.0])
    codes = np.array([0, 0, 0, 1, 1, 2, 2])
    pred_bad = pred.copy()
    pred_bad[0] = 4.0
    task = RegressionTask()
    res = task.grouped(Target(y=y, pred=pred), codes, 4, n_boot=0, seed=0, confidence=0.95)
    assert res[0]["r2"]["value"] == 1.0  # constant target, perfect predictions
    bad = task.grouped(Target(y=y, pred=pred_bad), codes, 3, n_boot=0, seed=0, confidence=0.95)
    assert bad[0]["r2"]["value"] == 0.0 == skm.r2_score(y[:3], pred_bad[:3])
    assert res[3]["mae"]["value"] is None  # an empty group
    one = task.grouped(Target(y=y[:1], pred=pred[:1] + 1), np.zeros(1, np.int64), 1,
                       n_boot=20, seed=0, confidence=0.95)[0]
    assert one["r2"]["value"] is None and one["mae"]["value"] == 1.0


def test_extras_residual_quantiles_and_histogram() -> None:
    y, pred, _ = _random_case(0)
    out = RegressionTask().extras(Target(y=y, pred=pred))
    r = y - pred
    expected = np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95])
    assert list(out["residual_quantiles"].values()) == pytest.approx(expected, rel=TOL)
    assert list(out["residual_quantiles"]) == ["q05", "q25", "q50", "q75", "q95"]
    hist = out["residual_histogram"]
    assert sum(hist["counts"]) == len(r) and len(hist["edges"]) == len(hist["counts"]) + 1
    assert hist["edges"][0] == r.min() and hist["edges"][-1] == r.max()


def test_names_directions_and_bad_input() -> None:
    task = RegressionTask()
    assert task.metric_names() == ["mae", "rmse", "r2", "mape"]
    assert [task.higher_is_better(m) for m in task.metric_names()] == [False, False, True, False]
    with pytest.raises(InvalidInput, match="numeric predictions"):
        task.grouped(Target(y=np.zeros(2), pred=None), np.zeros(2, np.int64), 1, n_boot=0,
                     seed=0, confidence=0.95)
    with pytest.raises(InvalidInput, match="shape"):
        task.grouped(Target(y=np.zeros(2), pred=np.zeros(3)), np.zeros(2, np.int64), 1,
                     n_boot=0, seed=0, confidence=0.95)


# ------------------------------------------------------------------------------- bootstrap

def test_n_boot_zero_gives_no_interval() -> None:
    y, pred, codes = _random_case(0, n=200)
    res = RegressionTask().grouped(Target(y=y, pred=pred), codes, 5, n_boot=0, seed=0,
                                   confidence=0.95)
    assert all(v["ci_low"] is None and v["ci_high"] is None for g in res for v in g.values())
    pair = RegressionTask().paired(Target(y=y, pred=pred), Target(y=y, pred=pred), codes, 5,
                                   n_boot=0, seed=0, confidence=0.95)
    assert all(d["p_value"] is None and d["delta"] == 0.0 for g in pair for d in g.values())


def test_paired_with_itself_has_zero_delta() -> None:
    y, pred, codes = _random_case(1, n=2000)
    t = Target(y=y, pred=pred)
    for group in RegressionTask().paired(t, t, codes, 5, n_boot=200, seed=0, confidence=0.95):
        for name, d in group.items():
            assert d["delta"] == 0.0, name
            assert (d["ci_low"], d["ci_high"]) == (0.0, 0.0), name
            assert d["p_value"] == 1.0


def test_paired_points_equal_grouped_and_detect_a_worse_model() -> None:
    y, pred, codes = _random_case(2, n=4000)
    worse = pred + np.random.default_rng(0).normal(0, 3, len(y))
    cand, base = Target(y=y, pred=pred), Target(y=y, pred=worse)
    task = RegressionTask()
    deltas = task.paired(cand, base, codes, 5, n_boot=300, seed=0, confidence=0.95)
    own_c = task.grouped(cand, codes, 5, n_boot=0, seed=0, confidence=0.95)
    own_b = task.grouped(base, codes, 5, n_boot=0, seed=0, confidence=0.95)
    for g in range(5):
        for name, d in deltas[g].items():
            assert d["candidate"] == own_c[g][name]["value"]
            assert d["baseline"] == own_b[g][name]["value"]
    overall = task.paired(cand, base, np.zeros(len(y), np.int64), 1, n_boot=300, seed=0,
                          confidence=0.95)[0]
    assert overall["rmse"]["ci_high"] < 0 and overall["mae"]["ci_high"] < 0
    assert overall["r2"]["ci_low"] > 0 and overall["r2"]["p_value"] < 0.01
    with pytest.raises(InvalidInput, match="same target rows"):
        task.paired(cand, Target(y=y + 1, pred=worse), codes, 5, n_boot=0, seed=0,
                    confidence=0.95)


# --------------------------------------------------------------------------------- properties
