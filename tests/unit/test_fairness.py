"""Fairness of a binary classifier: equal to Fairlearn's MetricFrame and disparity functions
on Adult and COMPAS (see examples/data/README.md), exact bootstrap of the group counts."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, precision_score

from airlock.errors import InvalidInput
from airlock.evaluation._fairness import GROUP_METRICS, fairness_binary, intersect
from airlock.evaluation._types import Target

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
TOL = 1e-12
PROPERTY = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# zero_division=nan: an intersection of COMPAS has nobody predicted positive; airlock says
# None there where scikit-learn would warn and say 0
FAIRLEARN_METRICS = {"selection_rate": selection_rate, "tpr": true_positive_rate,
                     "fpr": false_positive_rate,
                     "precision": partial(precision_score, zero_division=np.nan),
                     "accuracy": accuracy_score}

Case = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], dict[str, np.ndarray[Any, Any]]]


def adult() -> Case:
    """Adult with a fixed logistic score of a few columns."""
    df = pd.read_csv(DATA / "adult.data.gz", header=None, names=ADULT_COLUMNS,
                     skipinitialspace=True)
    z = (0.35 * (df["education_num"] - 10) + 0.04 * (df["age"] - 38)
         + 0.03 * (df["hours_per_week"] - 40) + 0.0003 * df["capital_gain"]
         + 1.2 * (df["marital_status"] == "Married-civ-spouse") - 1.3)
    score = (1.0 / (1.0 + np.exp(-z))).to_numpy()
    y = (df["income"] == ">50K").to_numpy().astype(np.int8)
    return y, score, {c: df[c].to_numpy().astype(str) for c in ("sex", "race")}


def compas() -> Case:
    """COMPAS: decile_score / 10 as the score, two_year_recid as the label."""
    df = pd.read_csv(DATA / "compas-scores-two-years.csv.gz")
    y = df["two_year_recid"].to_numpy().astype(np.int8)
    return (y, df["decile_score"].to_numpy() / 10.0,
            {c: df[c].to_numpy().astype(str) for c in ("race", "sex", "age_cat")})


def encode(values: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], list[str]]:
    labels, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), [str(v) for v in labels]


def cases() -> list[tuple[str, str]]:
    return [("adult", "sex"), ("adult", "race"), ("adult", "sex & race"),
            ("compas", "race"), ("compas", "sex"), ("compas", "age_cat"),
            ("compas", "race & sex")]


def load(dataset: str, feature: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any],
                                             np.ndarray[Any, Any], np.ndarray[Any, Any],
                                             list[str]]:
    """y, score, the raw sensitive values (joined with ' & ' for an intersection), codes and
    labels (through airlock's ``intersect`` for an intersection)."""
    y, score, columns = adult() if dataset == "adult" else compas()
    parts = feature.split(" & ")
    raw = columns[parts[0]]
    codes, labels = encode(raw)
    for part in parts[1:]:
        codes, labels = intersect(codes, labels, *encode(columns[part]))
        raw = np.char.add(np.char.add(raw, " & "), columns[part])
    return y, score, raw, codes, labels


@pytest.mark.parametrize(("dataset", "feature"), cases())
def test_by_group_and_disparities_equal_fairlearn(dataset: str, feature: str) -> None:
    y, score, raw, codes, labels = load(dataset, feature)
    threshold = 0.5
    yhat = (score >= threshold).astype(int)
    res = fairness_binary(Target(y=y, pred=score), threshold, codes, len(labels), labels,
                          n_boot=0)
    frame = MetricFrame(metrics=FAIRLEARN_METRICS, y_true=y, y_pred=yhat,
                        sensitive_features=raw)
    expected = frame.by_group
    assert sorted(res["by_group"]) == sorted(str(g) for g in expected.index)
    for group, row in expected.iterrows():
        ours = res["by_group"][str(group)]
        assert ours["support"] == int(np.sum(raw == group))
        for m in GROUP_METRICS:
            if math.isnan(row[m]):
                assert ours[m] is None, (group, m)
            else:
                assert ours[m] is not None and abs(ours[m] - row[m]) <= TOL, (group, m)
    d = res["disparities"]
    fairlearn_values = {
        "demographic_parity_difference": demographic_parity_difference(
            y, yhat, sensitive_features=raw, method="between_groups"),
        "demographic_parity_ratio": demographic_parity_ratio(
            y, yhat, sensitive_features=raw, method="between_groups"),
        "equalized_odds_difference": equalized_odds_difference(
            y, yhat, sensitive_features=raw, method="between_groups"),
        "equal_opportunity_difference": frame.difference(method="between_groups")["tpr"],
        "disparate_impact_ratio": frame.ratio(method="between_groups")["selection_rate"],
    }
    for name, value in fairlearn_values.items():
        assert abs(d[name]["value"] - value) <= TOL, name
        assert d[name]["ci_low"] is None and d[name]["ci_high"] is None
    assert d["four_fifths_rule"] == {  # the shape of every disparity, with bound and verdict
        **d["disparate_impact_ratio"], "bound": 0.8,
        "passed": fairlearn_values["disparate_impact_ratio"] >= 0.8}
    json.dumps(res, allow_nan=False)


def test_compas_race_fails_the_four_fifths_rule() -> None:
    """The ProPublica finding, as numbers: Black defendants are labelled high risk far more
    often than white defendants."""
    y, score, _, codes, labels = load("compas", "race")
    res = fairness_binary(Target(y=y, pred=score), 0.5, codes, len(labels), labels,
                          n_boot=500, seed=0)
    by = res["by_group"]
    assert by["African-American"]["selection_rate"] > 1.5 * by["Caucasian"]["selection_rate"]
    assert by["African-American"]["fpr"] > 1.5 * by["Caucasian"]["fpr"]
    assert res["disparities"]["four_fifths_rule"]["passed"] is False
    dpd = res["disparities"]["demographic_parity_difference"]
    assert dpd["ci_low"] < dpd["value"] < dpd["ci_high"]


def test_groups_without_rows_never_appear() -> None:
    y = np.array([0, 1, 1, 0, 1, 0], np.int8)
    p = np.array([0.2, 0.9, 0.6, 0.7, 0.4, 0.1])
    codes = np.array([0, 0, 0, 2, 2, 2])
    res = fairness_binary(Target(y=y, pred=p), 0.5, codes, 3, ["a", "b", "c"], n_boot=50)
    assert list(res["by_group"]) == ["a", "c"]
    assert res["by_group"]["a"] == {"selection_rate": 2 / 3, "tpr": 1.0, "fpr": 0.0,
                                    "precision": 1.0, "accuracy": 1.0, "support": 3}
    assert res["by_group"]["c"] == {"selection_rate": 1 / 3, "tpr": 0.0, "fpr": 0.5,
                                    "precision": 0.0, "accuracy": 1 / 3, "support": 3}
    d = res["disparities"]
    assert d["demographic_parity_difference"]["value"] == pytest.approx(1 / 3, abs=TOL)
    assert d["demographic_parity_ratio"]["value"] == pytest.approx(0.5, abs=TOL)
    assert d["equalized_odds_difference"]["value"] == 1.0
    assert d["equal_opportunity_difference"]["value"] == 1.0
    assert d["four_fifths_rule"]["passed"] is False
    assert d["four_fifths_rule"]["value"] == pytest.approx(0.5, abs=TOL)
    assert d["four_fifths_rule"]["bound"] == 0.8
    assert d["four_fifths_rule"]["ci_low"] <= 0.5 <= d["four_fifths_rule"]["ci_high"]


def test_undefined_rates_are_none_and_skipped_by_the_disparities() -> None:
    y = np.array([0, 0, 1, 1, 0, 0], np.int8)
    p = np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.1])
    codes = np.array([0, 0, 1, 1, 1, 1])
    res = fairness_binary(Target(y=y, pred=p), 0.5, codes, 2, ["a", "b"], n_boot=0)
    a = res["by_group"]["a"]
    assert a["tpr"] is None and a["precision"] is None  # no positives, nothing predicted
    assert a["tpr_reason"] == "no positive rows"  # a None says why (issue 12 item 13)
    assert a["precision_reason"] == "no row is predicted positive"
    assert "fpr_reason" not in a and "tpr_reason" not in res["by_group"]["b"]
    d = res["disparities"]
    assert d["equal_opportunity_difference"]["value"] == 0.0  # one group with a TPR
    assert d["equalized_odds_difference"]["value"] == 0.5  # FPR 0 in a, 0.5 in b


def test_nobody_selected_passes_the_four_fifths_rule_with_no_ratio() -> None:
    y = np.array([0, 1, 0, 1], np.int8)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    res = fairness_binary(Target(y=y, pred=p), 0.5, np.array([0, 0, 1, 1]), 2, ["a", "b"],
                          n_boot=20)
    d = res["disparities"]
    nobody = "no group has a positive selection rate (nobody was selected)"
    assert d["four_fifths_rule"] == {"value": None, "ci_low": None, "ci_high": None,
                                     "reason": nobody, "bound": 0.8, "passed": True}
    assert d["demographic_parity_ratio"]["value"] is None
    assert d["demographic_parity_ratio"]["reason"] == nobody
    assert d["demographic_parity_difference"] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_bad_input_is_one_clear_error() -> None:
    y = np.array([0, 1], np.int8)
    p = np.array([0.2, 0.7])
    with pytest.raises(InvalidInput, match=r"group codes \(3,\) do not match the 2 rows"):
        fairness_binary(Target(y=y, pred=p), 0.5, np.array([0, 0, 1]), 2, ["a", "b"], n_boot=0)
    with pytest.raises(InvalidInput, match="1 group labels for 2 groups"):
        fairness_binary(Target(y=y, pred=p), 0.5, np.array([0, 1]), 2, ["a"], n_boot=0)


# ------------------------------------------------------------------------------- bootstrap

def brute_force_dpd(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], codes: np.ndarray[Any, Any],
                    n_boot: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(1)
    out = []
    for rows in rng.integers(0, len(y), (n_boot, len(y))):
        yhat, c = p[rows] >= 0.5, codes[rows]
        rates = [yhat[c == g].mean() for g in np.unique(c)]
        out.append(max(rates) - min(rates))
    return np.array(out)


def test_bootstrap_interval_is_the_row_bootstrap() -> None:
    y, score, _, codes, labels = load("compas", "sex")
    res = fairness_binary(Target(y=y, pred=score), 0.5, codes, len(labels), labels,
                          n_boot=2000, seed=0)
    low, high = np.quantile(brute_force_dpd(y, score, codes, 1000), [0.025, 0.975])
    dpd = res["disparities"]["demographic_parity_difference"]
    width = high - low
    assert abs(dpd["ci_low"] - low) < 0.1 * width and abs(dpd["ci_high"] - high) < 0.1 * width


def test_determinism_and_seed() -> None:
    y, score, _, codes, labels = load("adult", "race")
    t = Target(y=y, pred=score)
    a = fairness_binary(t, 0.5, codes, len(labels), labels, n_boot=300, seed=1)
    b = fairness_binary(t, 0.5, codes, len(labels), labels, n_boot=300, seed=1)
    c = fairness_binary(t, 0.5, codes, len(labels), labels, n_boot=300, seed=2)
    assert json.dumps(a) == json.dumps(b)
    assert a["by_group"] == c["by_group"]
    key = ("demographic_parity_difference", "ci_low")
    assert a["disparities"][key[0]][key[1]] != c["disparities"][key[0]][key[1]]


@st.composite
def groups_data(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any],
                                          np.ndarray[Any, Any], int]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(400, 4000))
    n_groups = draw(st.integers(2, 5))
    codes = rng.integers(0, n_groups, n)
    z = rng.normal(size=n) + 0.4 * codes
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int8)
    p = np.round(1.0 / (1.0 + np.exp(-z - rng.normal(size=n))), draw(st.sampled_from([1, 3])))
    return y, p, codes, n_groups


@PROPERTY
@given(data=groups_data())
def test_one_group_has_no_disparity(data: tuple[Any, Any, Any, int]) -> None:
    y, p, _, _ = data
    res = fairness_binary(Target(y=y, pred=p), 0.5, np.zeros(len(y), np.int64), 1, ["all"],
                          n_boot=50)
    d = res["disparities"]
    for name in ("demographic_parity_difference", "equalized_odds_difference",
                 "equal_opportunity_difference"):
        assert d[name] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    if d["demographic_parity_ratio"]["value"] is not None:
        assert d["demographic_parity_ratio"]["value"] == 1.0


# ------------------------------------------------------------------------------- intersect

def test_intersect_labels_and_codes() -> None:
    a_codes = np.array([0, 1, 1, 0, 2, 1])
    b_codes = np.array([1, 0, 1, 1, 0, 0])
    codes, labels = intersect(a_codes, ["F", "M", "X"], b_codes, ["Black", "White"])
    assert labels == ["F & White", "M & Black", "M & White", "X & Black"]
    assert codes.tolist() == [0, 1, 2, 0, 3, 1]


@PROPERTY
@given(a=st.lists(st.integers(0, 4), min_size=1, max_size=200), data=st.data())
def test_intersect_matches_a_python_reference(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(0, 3), min_size=len(a), max_size=len(a)))
    la, lb = [f"a{i}" for i in range(5)], [f"b{i}" for i in range(4)]
    codes, labels = intersect(np.array(a), la, np.array(b), lb)
    pairs = sorted(set(zip(a, b, strict=True)))
    assert labels == [f"{la[i]} & {lb[j]}" for i, j in pairs]
    assert [labels[c] for c in codes] == [f"{la[i]} & {lb[j]}" for i, j in zip(a, b,
                                                                                strict=True)]
    assert math.prod(codes.shape) == len(a) and codes.dtype == np.int64


def test_every_group_rate_has_a_bootstrap_ci_around_its_value() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    y = rng.integers(0, 2, n).astype(np.int8)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    codes = rng.integers(0, 4, n)
    labels = ["a", "b", "c", "d"]
    out = fairness_binary(Target(y=y, pred=score), 0.5, codes, 4, labels, n_boot=300, seed=1)
    assert set(out["by_group_ci"]) == set(labels)
    for g in labels:
        for m in GROUP_METRICS:
            value = out["by_group"][g][m]
            ci = out["by_group_ci"][g][m]
            assert ci["ci_low"] <= value <= ci["ci_high"]
            assert ci["ci_high"] - ci["ci_low"] > 0  # a real interval, not a copy
    none = fairness_binary(Target(y=y, pred=score), 0.5, codes, 4, labels, n_boot=0)
    assert none["by_group_ci"]["a"]["tpr"] == {"ci_low": None, "ci_high": None}
