"""Multiclass metrics: equal to scikit-learn (overall and per group), multinomial bootstrap.

Real data: UCI Adult (examples/data/adult.data.gz, see examples/data/README.md), predicting
``relationship`` (6 classes) with a logistic regression on the numeric columns.
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
from airlock.evaluation._multiclass import MulticlassTask
from airlock.evaluation._types import Target

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
                 "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
                 "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TOL = 1e-12
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

Arr = np.ndarray[Any, Any]


def _probabilities(rng: np.random.Generator, n: int, k: int, sharp: float = 1.5) -> Arr:
    logits = rng.normal(scale=sharp, size=(n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    out: Arr = p / p.sum(1, keepdims=True)
    return out


def _random_case(seed: int, n: int = 3000, k: int = 5, groups: int = 4) -> tuple[Arr, Arr, Arr]:
    """y drawn from the probabilities (a useful model); the last group never sees the last
    class, neither as truth nor as prediction (its per-class metrics are undefined)."""
    rng = np.random.default_rng(seed)
    p = _probabilities(rng, n, k)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    codes = rng.integers(0, groups, n)
    last = codes == groups - 1
    p[last, k - 1] = 0.0
    p[last] /= p[last].sum(1, keepdims=True)
    y[last & (y == k - 1)] = 0
    return y.astype(np.int64), p, codes.astype(np.int64)


def sklearn_metrics(y: Arr, p: Arr | None, yhat: Arr, k: int, names: list[str]) -> dict[str, float]:
    labels = list(range(k))
    out = {"accuracy": skm.accuracy_score(y, yhat),
           "macro_f1": skm.f1_score(y, yhat, average="macro", zero_division=0),
           "weighted_f1": skm.f1_score(y, yhat, average="weighted", zero_division=0)}
    if p is not None:
        out["log_loss"] = skm.log_loss(y, p, labels=labels)
    precision = skm.precision_score(y, yhat, labels=labels, average=None, zero_division=np.nan)
    recall = skm.recall_score(y, yhat, labels=labels, average=None, zero_division=np.nan)
    for i, name in enumerate(names):
        out[f"precision[{name}]"] = precision[i]
        out[f"recall[{name}]"] = recall[i]
    return {m: float(v) for m, v in out.items()}


def assert_matches(result: dict[str, dict[str, float | None]], expected: dict[str, float]) -> None:
    assert set(result) == set(expected)
    for name, value in expected.items():
        got = result[name]["value"]
        if np.isnan(value):
            assert got is None, name
        else:
            assert got is not None, name
            assert got == pytest.approx(value, rel=TOL, abs=TOL), name


def check_against_sklearn(y: Arr, p: Arr | None, yhat: Arr, codes: Arr, n_groups: int,
                          classes: list[str], labels: Arr | None = None) -> None:
    k = len(classes)
    t = Target(y=y, pred=p, classes=classes, labels=labels)
    overall = MulticlassTask().grouped(t, np.zeros(len(y), np.int64), 1, n_boot=0, seed=0,
                                       confidence=0.95)
    assert_matches(overall[0], sklearn_metrics(y, p, yhat, k, classes))
    per_group = MulticlassTask().grouped(t, codes, n_groups, n_boot=0, seed=0, confidence=0.95)
    for g in range(n_groups):
        m = codes == g
        assert_matches(per_group[g],
                       sklearn_metrics(y[m], None if p is None else p[m], yhat[m], k, classes))


# ------------------------------------------------------------------- equal to scikit-learn

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_metrics_equal_sklearn_on_random_data(seed: int) -> None:
    y, p, codes = _random_case(seed)
    check_against_sklearn(y, p, p.argmax(1), codes, 4, ["a", "b", "c", "d", "e"])


def test_a_class_missing_from_a_group_has_undefined_precision_and_recall() -> None:
    y, p, codes = _random_case(0)
    res = MulticlassTask().grouped(Target(y=y, pred=p, classes=list("abcde")), codes, 4,
                                   n_boot=50, seed=0, confidence=0.95)
    assert res[3]["precision[e]"] == {"value": None, "ci_low": None, "ci_high": None,
                                      "reason": "no row is predicted as the class"}
    assert res[3]["recall[e]"]["value"] is None
    assert res[3]["recall[e]"]["reason"] == "no row of the class"
    assert res[0]["recall[e]"]["value"] is not None


def test_labels_without_probabilities_leave_out_log_loss() -> None:
    y, _, codes = _random_case(3, k=4)
    rng = np.random.default_rng(0)
    labels = np.where(rng.random(len(y)) < 0.7, y, rng.integers(0, 4, len(y)))
    check_against_sklearn(y, None, labels, codes, 4, ["w", "x", "y", "z"], labels=labels)
    res = MulticlassTask().grouped(Target(y=y, pred=None, labels=labels), codes, 4,
                                   n_boot=20, seed=0, confidence=0.95)
    assert "log_loss" not in res[0]
    assert "precision[3]" in res[0]  # no class names: the codes name the classes


def test_given_labels_override_the_argmax() -> None:
    y, p, codes = _random_case(4, k=3)
    labels = (p.argmax(1) + 1) % 3
    check_against_sklearn(y, p, labels, codes, 4, ["x", "y", "z"], labels=labels)


@pytest.fixture(scope="module")
def adult_relationship() -> tuple[Arr, Arr, list[str], dict[str, Arr]]:
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv(DATA / "adult.data.gz", header=None, names=ADULT_COLUMNS,
                     skipinitialspace=True)
    x = df[NUMERIC].to_numpy(dtype=np.float64)
    x = (x - x.mean(0)) / x.std(0)
    cat = pd.Categorical(df["relationship"])
    y = np.asarray(cat.codes, dtype=np.int64)
    model = LogisticRegression(max_iter=2000).fit(x, y)
    groups = {c: np.asarray(pd.Categorical(df[c]).codes, dtype=np.int64)
              for c in ("sex", "race", "workclass")}
    return y, model.predict_proba(x), [str(c) for c in cat.categories], groups


@pytest.mark.parametrize("column", ["sex", "race", "workclass"])
def test_point_metrics_equal_sklearn_on_adult(
        adult_relationship: tuple[Arr, Arr, list[str], dict[str, Arr]], column: str) -> None:
    y, p, classes, groups = adult_relationship
    assert len(classes) == 6
    codes = groups[column]
    check_against_sklearn(y, p, p.argmax(1), codes, int(codes.max()) + 1, classes)


def test_extras_confusion_matrix_equals_sklearn() -> None:
    y, p, _ = _random_case(5, k=4)
    out = MulticlassTask().extras(Target(y=y, pred=p, classes=list("pqrs")))
    assert out["confusion_matrix"]["classes"] == list("pqrs")
    expected = skm.confusion_matrix(y, p.argmax(1), labels=range(4))
    assert out["confusion_matrix"]["matrix"] == expected.tolist()


def test_names_and_directions() -> None:
    task = MulticlassTask(classes=["a", "b"])
    assert task.metric_names() == ["accuracy", "macro_f1", "weighted_f1", "log_loss",
                                   "precision[a]", "precision[b]", "recall[a]", "recall[b]"]
    assert task.higher_is_better("accuracy") and task.higher_is_better("recall[a]")
    assert not task.higher_is_better("log_loss")


@pytest.mark.parametrize(("target", "message"), [
    (Target(y=np.array([0, 3]), pred=np.full((2, 3), 1 / 3)), "0..2"),
    (Target(y=np.array([0, 1]), pred=np.full((2, 2), 0.5), classes=["a"]), "class names"),
    (Target(y=np.array([0, 1]), pred=None), "probabilities or predicted labels"),
    (Target(y=np.array([0, 1]), pred=np.full(2, 0.5)), "(rows, classes)"),
])
def test_bad_input_is_named(target: Target, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        MulticlassTask().grouped(target, np.zeros(target.n, np.int64), 1, n_boot=0, seed=0,
                                 confidence=0.95)


# ------------------------------------------------------------------------------- bootstrap

def test_n_boot_zero_gives_no_interval() -> None:
    y, p, codes = _random_case(0, n=300)
    res = MulticlassTask().grouped(Target(y=y, pred=p), codes, 4, n_boot=0, seed=0,
                                   confidence=0.95)
    assert all(v["ci_low"] is None and v["ci_high"] is None for g in res for v in g.values())


def test_multinomial_counts_match_row_resampling() -> None:
    """The count bootstrap is exact: its accuracy and macro-F1 distributions agree with a
    brute-force row bootstrap; log loss (binned cell means) agrees within a few percent."""
    rng = np.random.default_rng(7)
    n, k, boots = 400, 3, 4000
    p = _probabilities(rng, n, k, sharp=2.0)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1).astype(np.int64)
    yhat = p.argmax(1)
    loss = -np.log(p[np.arange(n), y])
    idx = rng.integers(0, n, size=(boots, n))
    brute_acc = (y[idx] == yhat[idx]).mean(1)
    brute_f1 = np.array([skm.f1_score(y[i], yhat[i], average="macro", zero_division=0)
                         for i in idx[:800]])
    brute_ll = loss[idx].mean(1)

    task = MulticlassTask()
    samples = task._samples(task_rows(y, p), np.zeros(n, np.int64), 1, boots, seed=3)
    acc, f1, ll = (samples[m][:, 0] for m in ("accuracy", "macro_f1", "log_loss"))
    se = brute_acc.std() / np.sqrt(boots)
    assert abs(acc.mean() - brute_acc.mean()) < 5 * se
    assert acc.std() == pytest.approx(brute_acc.std(), rel=0.06)
    assert f1.std() == pytest.approx(brute_f1.std(), rel=0.12)
    assert abs(f1.mean() - brute_f1.mean()) < 5 * brute_f1.std() / np.sqrt(800)
    assert ll.std() == pytest.approx(brute_ll.std(), rel=0.06)
    assert abs(ll.mean() - brute_ll.mean()) < 5 * brute_ll.std() / np.sqrt(boots)


def task_rows(y: Arr, p: Arr) -> Any:
    from airlock.evaluation._multiclass import _rows

    return _rows(Target(y=y, pred=p))


def test_paired_with_itself_has_zero_delta() -> None:
    y, p, codes = _random_case(1, n=800)
    t = Target(y=y, pred=p, classes=list("abcde"))
    res = MulticlassTask().paired(t, t, codes, 4, n_boot=200, seed=0, confidence=0.95)
    for group in res:
        for name, d in group.items():
            if d["candidate"] is None:
                continue
            assert d["delta"] == 0.0, name
            assert (d["ci_low"], d["ci_high"]) == (0.0, 0.0), name
            assert d["p_value"] == 1.0, name


def test_paired_points_equal_grouped_and_detect_a_worse_model() -> None:
    y, p, codes = _random_case(2, n=3000)
    rng = np.random.default_rng(1)
    noisy = 0.5 * p + 0.5 * _probabilities(rng, len(y), 5)
    cand, base = Target(y=y, pred=p), Target(y=y, pred=noisy)
    task = MulticlassTask()
    deltas = task.paired(cand, base, codes, 4, n_boot=300, seed=0, confidence=0.95)
    own_c = task.grouped(cand, codes, 4, n_boot=0, seed=0, confidence=0.95)
    own_b = task.grouped(base, codes, 4, n_boot=0, seed=0, confidence=0.95)
    for g in range(4):
        for name, d in deltas[g].items():
            assert d["candidate"] == own_c[g][name]["value"]
            assert d["baseline"] == own_b[g][name]["value"]
    overall = task.paired(cand, base, np.zeros(len(y), np.int64), 1, n_boot=300, seed=0,
                          confidence=0.95)[0]
    for name in ("accuracy", "macro_f1"):
        assert overall[name]["delta"] > 0 and overall[name]["ci_low"] > 0
        assert overall[name]["p_value"] < 0.01
    assert overall["log_loss"]["delta"] < 0 and overall["log_loss"]["ci_high"] < 0


# --------------------------------------------------------------------------------- properties

def test_another_seed_gives_other_intervals() -> None:
    y, p, codes = _random_case(0, n=500)
    t = Target(y=y, pred=p)
    a = MulticlassTask().grouped(t, codes, 4, n_boot=200, seed=1, confidence=0.95)
    b = MulticlassTask().grouped(t, codes, 4, n_boot=200, seed=2, confidence=0.95)
    assert a[0]["accuracy"]["value"] == b[0]["accuracy"]["value"]
    assert a != b
