"""Binary metrics: equal to scikit-learn (overall and per group), bootstrap from counts.

Real data: UCI Adult (examples/data/adult.data.gz) with a fixed hand-made score, and
ProPublica COMPAS (examples/data/compas-scores-two-years.csv.gz) with decile_score / 10;
see examples/data/README.md for their sources.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from airlock.errors import InvalidInput
from airlock.evaluation._binary import METRICS, BinaryTask, point_metrics
from airlock.evaluation._types import Target

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
TOL = 1e-12
COUNT_METRICS = ("accuracy", "precision", "recall", "f1", "selection_rate")
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

Case = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[str, np.ndarray[Any, Any]]]


# ------------------------------------------------------------------------------- data sets

def adult() -> Case:
    """Adult with a fixed logistic score of a few columns (ties: the inputs are integers)."""
    df = pd.read_csv(DATA / "adult.data.gz", header=None, names=ADULT_COLUMNS,
                     skipinitialspace=True)
    z = (0.35 * (df["education_num"] - 10) + 0.04 * (df["age"] - 38)
         + 0.03 * (df["hours_per_week"] - 40) + 0.0003 * df["capital_gain"]
         + 1.2 * (df["marital_status"] == "Married-civ-spouse") - 1.3)
    score = (1.0 / (1.0 + np.exp(-z))).to_numpy()
    y = (df["income"] == ">50K").to_numpy().astype(np.int8)
    return y, score, {c: df[c].to_numpy() for c in ("sex", "race", "education", "workclass")}


def compas() -> Case:
    df = pd.read_csv(DATA / "compas-scores-two-years.csv.gz")
    y = df["two_year_recid"].to_numpy().astype(np.int8)
    score = df["decile_score"].to_numpy() / 10.0  # decile 10 gives score 1.0: clipped log loss
    return y, score, {c: df[c].to_numpy() for c in ("race", "sex", "age_cat")}


def synthetic(n: int = 6000, seed: int = 0) -> Case:
    """Ties, scores exactly 0, 1, on the threshold and on ECE edges; a group without
    positives, one without predicted positives, one of a single row."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * z))).astype(np.int8)
    score = np.round(1.0 / (1.0 + np.exp(-2.5 * z - rng.normal(size=n))), 2)
    special = rng.integers(0, n, 300)
    score[special] = rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 1.0], size=300)
    group = rng.integers(0, 5, n)
    group[(group == 3) & (y == 1)] = 0           # group 3: no positives
    group[(group == 4) & (score >= 0.5)] = 1     # group 4: nothing predicted positive
    group[0] = 5                                 # group 5: one row
    return y, score, {"g": np.array([f"g{v}" for v in group])}


DATASETS = {"synthetic": synthetic, "adult": adult, "compas": compas}


def encode(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], list[str]]:
    labels, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int64), [str(v) for v in labels]


# ------------------------------------------------------------------------------ references

def reference(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any],
              threshold: float = 0.5) -> dict[str, float]:
    """scikit-learn's value of every metric; NaN where airlock defines it as undefined."""
    yhat = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    out = {
        "accuracy": skm.accuracy_score(y, yhat),
        "precision": skm.precision_score(y, yhat, zero_division=np.nan),
        "recall": skm.recall_score(y, yhat, zero_division=np.nan),
        "f1": skm.f1_score(y, yhat, zero_division=np.nan),
        "roc_auc": skm.roc_auc_score(y, p) if both else math.nan,
        "pr_auc": skm.average_precision_score(y, p) if y.any() else math.nan,
        "log_loss": skm.log_loss(y, p, labels=[0, 1]),
        "brier": skm.brier_score_loss(y, p, pos_label=1),
        "ece": reference_ece(y, p),
        "selection_rate": float(np.mean(yhat)),
    }
    return {k: float(v) for k, v in out.items()}


def reference_ece(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], n_bins: int = 10) -> float:
    """sum_b n_b / n |fraction positive_b - mean score_b| from calibration_curve's bins."""
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = [np.sum(((p > lo) | ((b == 0) & (p == 0.0))) & (p <= hi))
              for b, (lo, hi) in enumerate(itertools.pairwise(edges))]
    weights = np.array([c for c in counts if c > 0]) / len(p)
    return float(np.sum(weights * np.abs(prob_true - prob_pred)))


def assert_same(ours: float | None, ref: float, what: str) -> None:
    if math.isnan(ref):
        assert ours is None, f"{what}: expected undefined (None), got {ours}"
    else:
        assert ours is not None, f"{what}: undefined, expected {ref}"
        assert abs(ours - ref) <= TOL, f"{what}: {ours!r} != sklearn {ref!r}"


# ------------------------------------------------------------------------ point estimates

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_metric_equals_sklearn_overall_and_per_group(name: str) -> None:
    y, p, columns = DATASETS[name]()
    task = BinaryTask(threshold=0.5)
    overall = task.grouped(Target(y=y, pred=p), np.zeros(len(y), np.int64), 1, n_boot=0)[0]
    ref = reference(y, p)
    for m in METRICS:
        assert_same(overall[m]["value"], ref[m], f"{name} overall {m}")
    for column, values in columns.items():
        codes, labels = encode(values)
        per_group = task.grouped(Target(y=y, pred=p), codes, len(labels), n_boot=0)
        for g, label in enumerate(labels):
            mask = codes == g
            ref = reference(y[mask], p[mask])
            for m in METRICS:
                assert_same(per_group[g][m]["value"], ref[m], f"{name} {column}={label} {m}")
                assert per_group[g][m]["ci_low"] is None and per_group[g][m]["ci_high"] is None


def test_synthetic_case_covers_the_undefined_metrics() -> None:
    y, p, columns = synthetic()
    codes, labels = encode(columns["g"])
    res = dict(zip(labels, BinaryTask().grouped(Target(y=y, pred=p), codes, len(labels),
                                                n_boot=0), strict=True))
    for m in ("recall", "roc_auc", "pr_auc"):
        assert res["g3"][m]["value"] is None  # no positives
    assert res["g3"]["f1"]["value"] == 0.0 or res["g3"]["f1"]["value"] is None
    assert res["g4"]["precision"]["value"] is None  # nothing predicted positive
    assert res["g4"]["selection_rate"]["value"] == 0.0
    assert res["g5"]["accuracy"]["value"] in (0.0, 1.0)
    assert res["g5"]["roc_auc"]["value"] is None  # one row, one class


def test_a_group_without_rows_is_all_none() -> None:
    y, p, _ = compas()
    codes = (np.arange(len(y)) % 2).astype(np.int64)  # groups 0 and 1; group 2 is empty
    res = BinaryTask().grouped(Target(y=y, pred=p), codes, 3, n_boot=50)
    assert all(v == {"value": None, "ci_low": None, "ci_high": None,
                     "reason": "no rows in this group"} for v in res[2].values())
    assert all(res[g][m]["ci_low"] is not None for g in (0, 1) for m in METRICS)
    paired = BinaryTask().paired(Target(y=y, pred=p), Target(y=y, pred=p), codes, 3, n_boot=20)
    assert all(v["delta"] is None and v["p_value"] is None for v in paired[2].values())


def test_point_method_and_threshold_follow_sklearn() -> None:
    y, p, _ = compas()
    for threshold in (0.3, 0.55, 0.7):
        values = BinaryTask(threshold=threshold).point(Target(y=y, pred=p),
                                                       np.zeros(len(y), np.int64), 1)
        ref = reference(y, p, threshold)
        for m in METRICS:
            assert abs(values[m][0] - ref[m]) <= TOL, (threshold, m)
    # decile 10 gives score 1.0: without clipping the log loss would be infinite
    assert np.isfinite(BinaryTask().point(Target(y=y, pred=p), np.zeros(len(y), np.int64),
                                          1)["log_loss"][0])


def test_metric_names_and_direction() -> None:
    task = BinaryTask()
    assert task.metric_names() == list(METRICS)
    assert {m for m in METRICS if not task.higher_is_better(m)} == {"log_loss", "brier", "ece"}


@pytest.mark.parametrize(("y", "p", "codes", "message"), [
    ([0, 2, 1], [0.1, 0.2, 0.3], [0, 0, 0], "binary labels must be 0 or 1"),
    ([0, 1, 1], [0.1, 1.2, 0.3], [0, 0, 0], "scores must be finite probabilities in [0, 1]"),
    ([0, 1, 1], [0.1, np.nan, 0.3], [0, 0, 0], "scores must be finite probabilities in [0, 1]"),
    ([0, 1, 1], [0.1, 0.2], [0, 0, 0], "labels (3,) and scores (2,) must be 1-d, same length"),
    ([0, 1, 1], [0.1, 0.2, 0.3], [0, 0], "group codes (2,) do not match the 3 rows"),
    ([0, 1, 1], [0.1, 0.2, 0.3], [0, 1, 0], "group codes must lie in 0..0"),
    ([0, 1, 1], [0.1, 0.2, 0.3], [0, -1, 0], "group codes must lie in 0..0"),
    ([0, 1, 1], [0.1, 0.2, 0.3], [0.0, 0.0, 0.0], "group codes must be integers, not float64"),
])
def test_bad_input_is_one_clear_error(y: list[int], p: list[float], codes: list[int],
                                      message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        BinaryTask().grouped(Target(y=np.array(y), pred=np.array(p)), np.array(codes), 1,
                             n_boot=10)
    assert str(err.value) == message


def test_missing_scores_are_an_error() -> None:
    with pytest.raises(InvalidInput, match="needs scores"):
        BinaryTask().extras(Target(y=np.array([0, 1]), pred=None))


# ---------------------------------------------------------------------------------- extras

def test_extras_match_sklearn_curves_and_are_json() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150).astype(np.int8)
    p = np.round(np.clip(0.3 * y + rng.random(150) * 0.7, 0, 1), 2)
    ex = BinaryTask(threshold=0.4).extras(Target(y=y, pred=p))
    json.dumps(ex, allow_nan=False)
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(ex["roc"]["fpr"], fpr, atol=TOL)
    np.testing.assert_allclose(ex["roc"]["tpr"], tpr, atol=TOL)
    precision, recall, _ = skm.precision_recall_curve(y, p, drop_intermediate=False)
    np.testing.assert_allclose(ex["pr"]["precision"][1:], precision[::-1][1:], atol=TOL)
    np.testing.assert_allclose(ex["pr"]["recall"], recall[::-1], atol=TOL)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    rel = ex["reliability"]
    filled = [i for i, c in enumerate(rel["count"]) if c > 0]
    np.testing.assert_allclose([rel["fraction_positive"][i] for i in filled], prob_true,
                               atol=TOL)
    np.testing.assert_allclose([rel["mean_predicted"][i] for i in filled], prob_pred, atol=TOL)
    assert sum(rel["count"]) == 150 and len(rel["bin_low"]) == len(rel["bin_high"]) == 10
    assert rel["bin_low"][0] == 0.0 and rel["bin_high"][-1] == 1.0
    (tn, fp), (fn, tp) = skm.confusion_matrix(y, (p >= 0.4).astype(int))
    assert ex["confusion_matrix"] == {"labels": [0, 1], "matrix": [[tn, fp], [fn, tp]],
                                      "threshold": 0.4}


def test_curves_are_thinned_to_200_points_keeping_the_ends() -> None:
    y, p, _ = adult()
    ex = BinaryTask().extras(Target(y=y, pred=p))
    for curve, (a, b) in (("roc", ("fpr", "tpr")), ("pr", ("recall", "precision"))):
        assert 2 < len(ex[curve][a]) == len(ex[curve][b]) <= 200
    assert ex["roc"]["fpr"][0] == 0.0 and ex["roc"]["tpr"][0] == 0.0
    assert ex["roc"]["fpr"][-1] == 1.0 and ex["roc"]["tpr"][-1] == 1.0
    assert ex["pr"]["recall"][-1] == 1.0
    assert abs(ex["pr"]["precision"][-1] - y.mean()) <= TOL
    assert np.all(np.diff(ex["roc"]["fpr"]) >= 0)


# ------------------------------------------------------------------------------- bootstrap

def brute_force(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], n_boot: int,
                seed: int) -> dict[str, np.ndarray[Any, Any]]:
    """The textbook bootstrap: resample the rows, recompute every metric."""
    rng = np.random.default_rng(seed)
    zeros = np.zeros(len(y), np.int64)
    rows = [point_metrics(y[i], p[i], zeros, 1, 0.5, 10)
            for i in rng.integers(0, len(y), (n_boot, len(y)))]
    return {m: np.array([r[m][0] for r in rows]) for m in METRICS}


def airlock_samples(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any],
                    n_boot: int) -> dict[str, np.ndarray[Any, Any]]:
    task = BinaryTask()
    zeros = np.zeros(len(y), np.int64)
    y64 = y.astype(np.int64)
    from airlock.evaluation._binary import score_order

    point = point_metrics(y64, p, zeros, 1, 0.5, 10)
    samples = task._boot_grouped(y64, p, zeros, 1, point, score_order(p, zeros, 1), n_boot,
                                 np.random.default_rng(7))
    return {m: s[:, 0] for m, s in samples.items()}


def test_bootstrap_of_accuracy_is_the_row_bootstrap() -> None:
    """The multinomial trick: the resampled accuracy is exactly Binomial(n, acc) / n, the
    distribution a row-resampling bootstrap has, in mean and sd."""
    y, p, _ = synthetic(n=400, seed=4)
    ours = airlock_samples(y, p, 4000)["accuracy"]
    rows = brute_force(y, p, 2000, seed=5)["accuracy"]
    acc = float(np.mean(y == (p >= 0.5)))
    sd = math.sqrt(acc * (1 - acc) / len(y))
    assert abs(ours.mean() - acc) < 0.1 * sd and abs(rows.mean() - acc) < 0.15 * sd
    assert abs(ours.std() / sd - 1) < 0.05 and abs(rows.std() / sd - 1) < 0.07
    assert abs(ours.mean() - rows.mean()) < 0.15 * sd
    assert abs(ours.std() / rows.std() - 1) < 0.08
    # values are multiples of 1/n: counts, not weights
    assert np.allclose(ours * len(y), np.round(ours * len(y)))


def test_binned_metrics_follow_the_row_bootstrap() -> None:
    """AUC, AP, log loss, Brier, ECE through the cells: mean and sd of the row bootstrap."""
    y, p, _ = synthetic(n=3000, seed=6)
    ours = airlock_samples(y, p, 2000)
    rows = brute_force(y, p, 1000, seed=8)
    for m in METRICS:
        sd = rows[m].std()
        assert abs(ours[m].mean() - rows[m].mean()) < 0.2 * sd, m
        assert abs(ours[m].std() / sd - 1) < 0.12, m


def narrow_scores(n: int = 3000) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Continuous scores inside one ECE bin and one logit-grid step: with a tiny cell
    budget only the quantile cells split them, so in-cell effects are large."""
    rng = np.random.default_rng(21)
    z = rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-1.5 * z))).astype(np.int64)
    return y, 0.5 + 0.0999 / (1.0 + np.exp(-1.5 * z - rng.normal(size=n)))


def test_coarse_cells_stay_centred_on_the_point_estimate() -> None:
    from airlock.evaluation._binary import score_order

    y, p = narrow_scores()
    zeros = np.zeros(len(y), np.int64)
    task = BinaryTask(threshold=0.55, max_cells=16)
    point = point_metrics(y, p, zeros, 1, 0.55, 10)
    samples = task._boot_grouped(y, p, zeros, 1, point, score_order(p, zeros, 1), 2000,
                                 np.random.default_rng(1))
    rng = np.random.default_rng(2)
    rows = [point_metrics(y[i], p[i], zeros, 1, 0.55, 10)
            for i in rng.integers(0, len(y), (800, len(y)))]
    for m in METRICS:
        sd = float(np.std([r[m][0] for r in rows]))
        assert abs(samples[m][:, 0].mean() - point[m][0]) < 0.15 * sd, m
        assert abs(samples[m][:, 0].std() / sd - 1) < 0.12, m


def test_cells_reproduce_the_exact_values_on_the_original_rows() -> None:
    """On the original counts the cell formulas of AUC, log loss, Brier and ECE are exact
    (the in-cell concordance and means carry what the cells hide); only AP is shifted."""
    from airlock.evaluation._binary import _cell_stats, _fit_cells, _ScoreAxis, score_order

    y, p = narrow_scores()
    codes = np.random.default_rng(0).integers(0, 3, len(y))
    point = point_metrics(y, p, codes, 3, 0.55, 10)
    axis = _ScoreAxis(p, 0.55, 10, 1024)
    (cells,), occupied, _ = _fit_cells([axis], codes * 2 + y, 16)
    assert len(occupied) > 16 and cells.size <= 8 + 4  # the budget forced the coarsest cells
    stats = _cell_stats(y, p, codes, 3, cells, point, score_order(p, codes, 3))
    for m in ("roc_auc", "log_loss", "brier", "ece"):
        assert np.all(np.abs(stats.shift[m]) <= 1e-12), (m, stats.shift[m])
    assert np.all(np.abs(stats.shift["pr_auc"]) > 1e-6)


def test_cis_are_deterministic_and_depend_on_the_seed() -> None:
    y, p, columns = adult()
    codes, labels = encode(columns["race"])
    t = Target(y=y, pred=p)
    first = BinaryTask().grouped(t, codes, len(labels), n_boot=200, seed=3)
    again = BinaryTask().grouped(t, codes, len(labels), n_boot=200, seed=3)
    other = BinaryTask().grouped(t, codes, len(labels), n_boot=200, seed=4)
    assert json.dumps(first) == json.dumps(again)
    assert [g["roc_auc"]["value"] for g in first] == [g["roc_auc"]["value"] for g in other]
    assert [g["roc_auc"]["ci_low"] for g in first] != [g["roc_auc"]["ci_low"] for g in other]


def test_ci_level_widens_with_confidence() -> None:
    y, p, _ = compas()
    zeros = np.zeros(len(y), np.int64)
    narrow = BinaryTask().grouped(Target(y=y, pred=p), zeros, 1, n_boot=300, confidence=0.8)
    wide = BinaryTask().grouped(Target(y=y, pred=p), zeros, 1, n_boot=300, confidence=0.99)
    for m in METRICS:
        n, w = narrow[0][m], wide[0][m]
        assert w["ci_low"] <= n["ci_low"] <= n["ci_high"] <= w["ci_high"], m


# ------------------------------------------------------------------------------ properties

# ---------------------------------------------------------------------- baseline (paired)

def test_paired_deltas_equal_the_difference_of_sklearn_values() -> None:
    y, p, columns = adult()
    rng = np.random.default_rng(0)
    base = np.clip(p + rng.normal(scale=0.05, size=len(p)), 0.0, 1.0)
    codes, labels = encode(columns["sex"])
    res = BinaryTask().paired(Target(y=y, pred=p), Target(y=y, pred=base), codes, len(labels),
                              n_boot=200, seed=0)
    for g in range(len(labels)):
        mask = codes == g
        rc, rb = reference(y[mask], p[mask]), reference(y[mask], base[mask])
        for m in METRICS:
            d = res[g][m]
            assert abs(d["candidate"] - rc[m]) <= TOL and abs(d["baseline"] - rb[m]) <= TOL
            assert abs(d["delta"] - (rc[m] - rb[m])) <= TOL
            assert d["ci_low"] <= d["ci_high"] and 0.0 <= d["p_value"] <= 1.0


def test_paired_same_model_is_no_difference() -> None:
    y, p, _ = compas()
    zeros = np.zeros(len(y), np.int64)
    res = BinaryTask().paired(Target(y=y, pred=p), Target(y=y, pred=p), zeros, 1, n_boot=200)
    for m in METRICS:
        assert res[0][m]["delta"] == 0.0 and res[0][m]["ci_low"] == 0.0
        assert res[0][m]["ci_high"] == 0.0 and res[0][m]["p_value"] == 1.0


def test_paired_bootstrap_follows_the_row_bootstrap_and_detects_a_regression() -> None:
    y, p, _ = synthetic(n=3000, seed=11)
    rng = np.random.default_rng(12)
    worse = np.clip(p + rng.normal(scale=0.25, size=len(p)), 0.0, 1.0)
    zeros = np.zeros(len(y), np.int64)
    res = BinaryTask().paired(Target(y=y, pred=worse), Target(y=y, pred=p), zeros, 1,
                              n_boot=1000, seed=0)[0]
    rows = np.random.default_rng(13).integers(0, len(y), (600, len(y)))
    deltas = {m: np.array([point_metrics(y[i], worse[i], zeros, 1, 0.5, 10)[m][0]
                           - point_metrics(y[i], p[i], zeros, 1, 0.5, 10)[m][0] for i in rows])
              for m in ("accuracy", "roc_auc", "brier")}
    for m, d in deltas.items():
        low, high = np.quantile(d, [0.025, 0.975])
        width = high - low
        assert abs(res[m]["ci_low"] - low) < 0.15 * width, m
        assert abs(res[m]["ci_high"] - high) < 0.15 * width, m
    assert res["roc_auc"]["ci_high"] < 0 and res["roc_auc"]["p_value"] < 0.01
    assert res["brier"]["ci_low"] > 0 and res["brier"]["p_value"] < 0.01


def test_paired_rejects_different_labels_and_supports_no_bootstrap() -> None:
    y = np.array([0, 1, 0, 1], np.int8)
    p = np.array([0.2, 0.8, 0.4, 0.6])
    zeros = np.zeros(4, np.int64)
    with pytest.raises(InvalidInput, match="same labels"):
        BinaryTask().paired(Target(y=y, pred=p), Target(y=1 - y, pred=p), zeros, 1, n_boot=5)
    res = BinaryTask().paired(Target(y=y, pred=p), Target(y=y, pred=p[::-1].copy()), zeros, 1,
                              n_boot=0)[0]
    assert res["roc_auc"] == {"candidate": 1.0, "baseline": 0.0, "delta": 1.0,
                              "ci_low": None, "ci_high": None, "p_value": None}


def test_ece_bins_equal_the_search_over_the_edges() -> None:
    from airlock.evaluation._binary import ece_bin_ids

    rng = np.random.default_rng(0)
    for n_bins in (1, 3, 7, 10, 15, 64):
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        p = np.concatenate([rng.random(2000), edges, np.nextafter(edges, 2.0),
                            np.nextafter(edges, -1.0)])
        p = np.clip(p, 0.0, 1.0)
        assert np.array_equal(ece_bin_ids(p, n_bins),
                              np.searchsorted(edges[1:-1], p).astype(np.int64)), n_bins


def test_an_evaluation_sorts_its_scores_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overall, slices and curves reuse the Target's one descending order of the score."""
    rng = np.random.default_rng(1)
    n = 5000
    y = (rng.random(n) < 0.4).astype(np.int8)
    p = rng.random(n)
    codes = rng.integers(0, 4, n)
    t = Target(y=y, pred=p)
    calls: list[int] = []
    real = np.argsort

    def counting(a: Any, *args: Any, **kwargs: Any) -> Any:
        if np.asarray(a).dtype == np.float64:
            calls.append(len(a))
        return real(a, *args, **kwargs)

    monkeypatch.setattr(np, "argsort", counting)
    task = BinaryTask()
    task.grouped(t, np.zeros(n, np.int64), 1, n_boot=0)
    task.grouped(t, codes, 4, n_boot=0)
    task.extras(t)
    assert calls == [n]
