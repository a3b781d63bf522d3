"""Permutation importance equals scikit-learn's on the same seeds (overall, every repeat),
per slice it is the drop within the slice, and a tree model's mean |SHAP| is additive."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

import airlock
from airlock.errors import UsageError
from airlock.evaluation._explain import MSG_NO_SHAP, MSG_NOT_TREE, MSG_PIPELINE
from airlock.evaluation._importance import MSG_IMPORTANCE_TASK, sklearn_permutations

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


@pytest.fixture
def data(airlock_home: Any, adult_sample: Any) -> dict[str, Any]:
    df = adult_sample.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    train, test = df.head(1400), df.tail(600)
    return {"X": train.select(NUMERIC).to_pandas(), "y": train["income"].to_numpy(),
            "test": test}


def test_binary_importance_equals_sklearn_per_repeat(data: dict[str, Any]) -> None:
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(data["X"],
                                                                             data["y"])
    airlock.register_model("imp", model, input_example=data["X"][:5])
    ev = airlock.evaluate("imp@1", data["test"], target="income", importance=4, seed=7,
                          bootstrap=200, slices=["sex"], store=False).result
    imp = ev["importance"]
    X, y = data["test"].select(NUMERIC).to_pandas(), data["test"]["income"].to_numpy()
    ref = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=4, random_state=7,
                                 n_jobs=1)
    assert imp["metric"] == "roc_auc" and imp["repeats"] == 4
    assert imp["baseline"] == pytest.approx(roc_auc_score(y, model.predict_proba(X)[:, 1]),
                                            abs=1e-12)
    for i, col in enumerate(NUMERIC):
        got = imp["features"][col]
        assert got["repeats"] == pytest.approx(list(ref.importances[i]), abs=1e-12)
        assert got["value"] == pytest.approx(ref.importances_mean[i], abs=1e-12)
        assert got["std"] == pytest.approx(ref.importances_std[i], abs=1e-12)
        assert got["ci_low"] <= got["value"] <= got["ci_high"]
    ranked = list(imp["features"])
    assert [imp["features"][c]["rank"] for c in ranked] == list(range(1, len(NUMERIC) + 1))
    assert ranked[0] == NUMERIC[int(np.argmax(ref.importances_mean))]
    # per slice: the drop of roc_auc within the slice, the shuffle over the whole data
    perms = sklearn_permutations(len(y), 4, 7)
    women = (data["test"]["sex"] == "Female").to_numpy()
    base = roc_auc_score(y[women], model.predict_proba(X)[women, 1])
    drops = []
    for r in range(4):
        shuffled = X.copy()
        shuffled["age"] = X["age"].to_numpy()[perms[r]]
        drops.append(base - roc_auc_score(y[women], model.predict_proba(shuffled)[women, 1]))
    assert imp["slices"]["sex"]["Female"]["age"] == pytest.approx(np.mean(drops), abs=1e-12)


def test_regression_importance_is_the_rmse_increase(data: dict[str, Any]) -> None:
    cols = ["education_num", "capital_gain", "hours_per_week"]
    train = data["X"]
    model = LinearRegression().fit(train[cols], train["age"])
    airlock.register_model("reg", model, input_example=train[cols][:5])
    ev = airlock.evaluate("reg@1", data["test"], target="age", task="regression",
                          importance=3, seed=1, bootstrap=0, store=False).result
    X = data["test"].select(cols).to_pandas()
    ref = permutation_importance(model, X, data["test"]["age"].to_numpy(),
                                 scoring="neg_root_mean_squared_error", n_repeats=3,
                                 random_state=1)
    for i, col in enumerate(cols):
        assert ev["importance"]["features"][col]["value"] == pytest.approx(
            ref.importances_mean[i], abs=1e-9)
    assert ev["importance"]["metric"] == "rmse" and not ev["importance"]["higher_is_better"]
    assert ev["importance"]["shap"] == {"reason": MSG_NOT_TREE}  # a linear model


def test_tree_shap_is_additive_and_matches_the_probability(data: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # shap's import warns through matplotlib's
        warnings.simplefilter("ignore")
        import shap

    model = RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(
        data["X"], data["y"])
    airlock.register_model("rf", model, input_example=data["X"][:5])
    ev = airlock.evaluate("rf@1", data["test"], target="income", importance=2, bootstrap=0,
                          store=False).result
    got = ev["importance"]["shap"]
    assert got["method"] == "tree_shap" and got["rows"] == 600
    assert got["additive"] is True and got["additivity_error"] < 1e-9
    X = data["test"].select(NUMERIC).to_pandas()
    values = np.asarray(shap.TreeExplainer(model)(X).values)  # (rows, features, classes)
    assert values.shape == (600, len(NUMERIC), 2)
    expected = np.abs(values).mean(axis=(0, 2))
    assert [got["mean_abs"][c] for c in NUMERIC] == pytest.approx(list(expected), rel=1e-9)
    # additivity against scikit-learn's own probabilities
    base = np.asarray(shap.TreeExplainer(model).expected_value)[1]
    assert base + values[:, :, 1].sum(axis=1) == pytest.approx(model.predict_proba(X)[:, 1],
                                                               abs=1e-9)


def test_shap_says_why_it_does_not_apply(data: dict[str, Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    piped = make_pipeline(StandardScaler(), forest).fit(data["X"], data["y"])
    airlock.register_model("piped", piped, input_example=data["X"][:5])
    ev = airlock.evaluate("piped@1", data["test"], target="income", importance=1,
                          bootstrap=0, store=False).result
    assert ev["importance"]["shap"] == {"reason": MSG_PIPELINE}
    assert set(ev["importance"]["features"]) == set(NUMERIC)  # permutation importance still
    airlock.register_model("tree", forest.fit(data["X"], data["y"]),
                           input_example=data["X"][:5])
    monkeypatch.setitem(sys.modules, "shap", None)  # as if the [explain] extra were absent
    ev = airlock.evaluate("tree@1", data["test"], target="income", importance=1,
                          bootstrap=0, store=False).result
    assert ev["importance"]["shap"] == {"reason": MSG_NO_SHAP}


def test_importance_of_a_ranking_task_is_refused(data: dict[str, Any]) -> None:
    model = LogisticRegression(max_iter=200).fit(data["X"], data["y"])
    airlock.register_model("lr", model, input_example=data["X"][:5])
    test = data["test"].with_columns(pl.col("age").alias("q"))
    with pytest.raises(UsageError) as info:
        airlock.evaluate("lr@1", test, target="income", task="ranking", query="q",
                         importance=2, bootstrap=0, store=False)
    assert str(info.value) == MSG_IMPORTANCE_TASK.format(task="ranking")
