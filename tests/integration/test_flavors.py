"""Every flavor round-trips through register_model / load_model and predicts what the
original model predicts, on real data (the UCI Adult sample)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import airlock
from airlock.errors import UntrustedArtifact

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TEXT = ["workclass", "education", "marital_status", "sex"]


@pytest.fixture(scope="module")
def adult(adult_sample: Any) -> Any:
    """The Adult sample with its numeric columns as integers (the CSV pads them with spaces)."""
    import polars as pl

    return adult_sample.with_columns(pl.col(NUMERIC).cast(pl.Int64))


@pytest.fixture(scope="module")
def data(adult: Any) -> tuple[Any, Any, Any]:
    """(mixed features as pandas, numeric features as float pandas, label 0/1)."""
    X = adult.select(NUMERIC + TEXT).to_pandas()
    Xn = adult.select(NUMERIC).to_pandas().astype("float64")
    y = (adult["income"] == ">50K").to_numpy().astype(np.int64)
    return X, Xn, y


@pytest.fixture(scope="module")
def numeric_logreg(data: tuple[Any, Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, Xn, y = data
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(Xn, y)


def _proba(out: Any, model: Any) -> np.ndarray:
    """The proba_<class> columns of a predict() result (pandas or polars) as a matrix."""
    return np.column_stack([np.asarray(out[f"proba_{c}"]) for c in model.classes_])


def _roundtrip(name: str, model: Any, example: Any, **kw: Any) -> Any:
    version = airlock.register_model(name, model, input_example=example.head(20), **kw)
    assert version.version == 1
    return airlock.load_model(f"{name}@1")


# -- scikit-learn -------------------------------------------------------------------------
def test_sklearn_pipeline_skops(data: tuple[Any, Any, Any]) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, _, y = data
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), TEXT),
                                (StandardScaler(), NUMERIC)),
        LogisticRegression(max_iter=300),
    ).fit(X, y)
    loaded = _roundtrip("adult-pipe", model, X)

    v = loaded.version
    assert v.flavor == "sklearn"
    assert v.manifest["options"]["format"] == "skops"  # the default: no pickle
    assert v.manifest["pickle_based"] is False
    assert not any(f.endswith((".pkl", ".joblib")) for f in v.manifest["files"])

    out = loaded.predict(X)
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    assert_array_equal(out["prediction"].to_numpy(), model.predict(X))
    assert_allclose(_proba(out, model), model.predict_proba(X), rtol=0, atol=1e-12)


def test_sklearn_hist_gradient_boosting(data: tuple[Any, Any, Any]) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    _, Xn, y = data
    model = HistGradientBoostingClassifier(max_iter=15, max_depth=3, random_state=0).fit(Xn, y)
    loaded = _roundtrip("adult-hgb", model, Xn)
    assert loaded.version.manifest["options"]["format"] == "skops"
    out = loaded.predict(Xn)
    assert_array_equal(out["prediction"].to_numpy(), model.predict(Xn))
    assert_allclose(_proba(out, model), model.predict_proba(Xn), rtol=0, atol=1e-12)


def test_sklearn_regressor(adult: Any) -> None:
    from sklearn.ensemble import RandomForestRegressor

    X = adult.select(["age", "education_num", "capital_gain"]).to_pandas()
    y = adult["hours_per_week"].to_numpy().astype(float)
    model = RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(X, y)
    loaded = _roundtrip("hours", model, X)
    outputs = loaded.version.manifest["signature"]["outputs"]
    assert [o["name"] for o in outputs] == ["prediction"]
    out = loaded.predict(X)
    assert list(out.columns) == ["prediction"]
    assert_allclose(out["prediction"].to_numpy(), model.predict(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("serialization", ["pickle", "joblib"])
def test_pickle_based_sklearn_needs_trust(serialization: str, data: tuple[Any, Any, Any],
                                          numeric_logreg: Any) -> None:
    _, Xn, _ = data
    v = airlock.register_model("risky", numeric_logreg, input_example=Xn.head(10),
                               serialization=serialization)
    assert v.manifest["options"]["format"] == serialization
    assert v.manifest["pickle_based"] is True
    assert v.manifest["trusted"] is False

    with pytest.raises(UntrustedArtifact) as info:
        airlock.load_model("risky@1")
    message = str(info.value)
    assert "risky@1" in message
    assert "trusted=True" in message
    assert serialization in message

    out = airlock.load_model("risky@1", trusted=True).predict(Xn)
    assert_allclose(_proba(out, numeric_logreg), numeric_logreg.predict_proba(Xn),
                    rtol=0, atol=1e-12)

    # trusted at registration: loads without asking again
    v2 = airlock.register_model("risky", numeric_logreg, input_example=Xn.head(10),
                                serialization=serialization, trusted=True)
    assert v2.manifest["trusted"] is True
    out2 = airlock.load_model("risky@2").predict(Xn)
    assert_array_equal(out2["prediction"].to_numpy(), numeric_logreg.predict(Xn))
    # ...but that does not vouch for version 1
    with pytest.raises(UntrustedArtifact):
        airlock.load_model("risky@1")


# -- gradient boosting libraries ----------------------------------------------------------
def test_xgboost_classifier(data: tuple[Any, Any, Any]) -> None:
    xgb = pytest.importorskip("xgboost")
    _, Xn, y = data
    model = xgb.XGBClassifier(n_estimators=12, max_depth=3, n_jobs=1, random_state=0)
    model.fit(Xn, y)
    loaded = _roundtrip("adult-xgb", model, Xn)
    assert loaded.version.flavor == "xgboost"
    assert loaded.version.manifest["pickle_based"] is False
    out = loaded.predict(Xn)
    assert_array_equal(out["prediction"].to_numpy(), model.predict(Xn))
    assert_allclose(_proba(out, model), model.predict_proba(Xn), rtol=0, atol=1e-6)


def test_lightgbm_classifier(data: tuple[Any, Any, Any]) -> None:
    lgb = pytest.importorskip("lightgbm")
    _, Xn, y = data
    model = lgb.LGBMClassifier(n_estimators=12, num_leaves=8, n_jobs=1, random_state=0,
                               verbose=-1)
    model.fit(Xn, y)
    loaded = _roundtrip("adult-lgbm", model, Xn)
    assert loaded.version.flavor == "lightgbm"
    assert loaded.version.manifest["pickle_based"] is False
    out = loaded.predict(Xn)
    assert_array_equal(out["prediction"].to_numpy(), model.predict(Xn))
    assert_allclose(_proba(out, model), model.predict_proba(Xn), rtol=0, atol=1e-9)


# -- ONNX ---------------------------------------------------------------------------------
def test_onnx_from_sklearn(data: tuple[Any, Any, Any]) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    _, Xn, y = data
    X = Xn[["age", "education_num", "hours_per_week"]]
    model = LogisticRegression(max_iter=300).fit(X, y)
    proto = skl2onnx.convert_sklearn(
        model, initial_types=[("input", FloatTensorType([None, X.shape[1]]))],
        options={id(model): {"zipmap": False}}, target_opset=17)
    loaded = _roundtrip("adult-onnx", proto, X)
    assert loaded.version.flavor == "onnx"
    assert loaded.version.manifest["pickle_based"] is False
    # columns given in another order are matched by name (signature order), not position
    out = loaded.predict(X[X.columns[::-1]])
    proba = np.column_stack([out[f"probabilities_{j}"].to_numpy() for j in range(2)])
    assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-5)
    assert_array_equal(out["label"].to_numpy(), model.predict(X))


# -- python callables ---------------------------------------------------------------------
def rule_score(df: Any) -> Any:
    """A rule-based 'model', importable by reference."""
    return {"score": df["education_num"] * 2.0 + df["hours_per_week"] / 10.0,
            "senior": (df["age"] >= 50).astype("int64")}


def _threshold_rule(threshold: float) -> Any:
    def rule(df: Any) -> Any:
        return (df["capital_gain"] > threshold).astype("int64")

    return rule


def test_python_callable_by_reference(adult: Any) -> None:
    X = adult.select(NUMERIC).to_pandas()
    loaded = _roundtrip("rules", rule_score, X)
    v = loaded.version
    assert v.flavor == "python"
    assert v.manifest["options"]["format"] == "code_ref"
    assert v.manifest["options"]["ref"].endswith(":rule_score")
    assert v.manifest["pickle_based"] is False
    assert not any("pickle" in f for f in v.manifest["files"])  # nothing pickled

    out = loaded.predict(X)  # loads without trust: code by reference runs no pickle
    want = rule_score(X)
    assert_allclose(out["score"].to_numpy(), want["score"].to_numpy())
    assert_array_equal(out["senior"].to_numpy(), want["senior"].to_numpy())


@pytest.mark.parametrize("kind", ["closure", "lambda"])
def test_python_closure_is_cloudpickled_and_needs_trust(kind: str, adult: Any) -> None:
    X = adult.select(NUMERIC).to_pandas()
    cutoff = float(np.median(X["capital_gain"][X["capital_gain"] > 0]))
    fn = _threshold_rule(cutoff) if kind == "closure" else (
        lambda df: df["age"] * 1.5 - cutoff / 1000.0)
    v = airlock.register_model("custom", fn, input_example=X.head(10))
    assert v.manifest["options"]["format"] == "cloudpickle"
    assert v.manifest["pickle_based"] is True
    assert any(f.endswith(".cloudpickle") for f in v.manifest["files"])

    with pytest.raises(UntrustedArtifact, match=r"trusted=True"):
        airlock.load_model("custom")
    out = airlock.load_model("custom", trusted=True).predict(X)
    assert list(out.columns) == ["prediction"]
    assert_allclose(out["prediction"].to_numpy(), np.asarray(fn(X), dtype=float))


# -- input and output kinds ---------------------------------------------------------------
def test_predict_accepts_every_table_kind(data: tuple[Any, Any, Any],
                                          numeric_logreg: Any) -> None:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    _, Xn, _ = data
    X = Xn.head(200)
    airlock.register_model("kinds", numeric_logreg, input_example=X.head(5))
    loaded = airlock.load_model("kinds")
    assert loaded.input_columns == NUMERIC
    want = numeric_logreg.predict_proba(X)

    reversed_pd = X[X.columns[::-1]]  # names matter, not positions
    cases: list[tuple[str, Any, type]] = [
        ("pandas", reversed_pd, pd.DataFrame),
        ("polars", pl.from_pandas(reversed_pd), pl.DataFrame),
        ("arrow", pa.Table.from_pandas(reversed_pd, preserve_index=False), pa.Table),
        ("numpy", X[NUMERIC].to_numpy(), pl.DataFrame),  # columns in signature order
        ("dict", {c: X[c].tolist() for c in reversed_pd.columns}, pl.DataFrame),
        ("records", reversed_pd.to_dict(orient="records"), pl.DataFrame),
    ]
    for label, table, returned in cases:
        out = loaded.predict(table)
        assert type(out) is returned, label
        if isinstance(out, pa.Table):
            out = out.to_pandas()
        assert_allclose(_proba(out, numeric_logreg), want, rtol=0, atol=1e-12,
                         err_msg=label)
        assert_array_equal(np.asarray(out["prediction"]), numeric_logreg.predict(X),
                           err_msg=label)

    # integers (a numpy int matrix) are cast to the float columns of the signature
    ints = X[NUMERIC].to_numpy().astype(np.int64)
    assert_allclose(_proba(loaded.predict(ints), numeric_logreg), want, rtol=0, atol=1e-12)


# -- predict once: the label from the probabilities --------------------------------------------
def _estimators() -> list[tuple[str, Any, bool]]:
    """(label, unfitted estimator, whether one predict_proba call must do)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import (
        BaggingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    out = [
        ("logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), True),
        ("forest", RandomForestClassifier(n_estimators=20, random_state=0), True),
        ("hgb", HistGradientBoostingClassifier(max_iter=30, random_state=0), True),
        ("tree", DecisionTreeClassifier(max_depth=4, random_state=0), True),
        ("bayes", GaussianNB(), True),
        ("calibrated svc", make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(), cv=3)),
         True),
        ("bagged trees", BaggingClassifier(DecisionTreeClassifier(), n_estimators=5,
                                           random_state=0), True),
        ("svc", make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)), False),
        ("sgd huber", make_pipeline(StandardScaler(), SGDClassifier(loss="modified_huber",
                                                                    random_state=0)), False),
        ("threshold", FixedThresholdClassifier(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), threshold=0.9),
         False),
    ]
    for module, cls in (("xgboost", "XGBClassifier"), ("lightgbm", "LGBMClassifier")):
        try:
            lib = __import__(module)
        except ImportError:
            continue
        kw = {"verbose": -1} if module == "lightgbm" else {}
        out.append((module, getattr(lib, cls)(n_estimators=10, **kw), True))
    return out


@pytest.mark.parametrize("classes", ["binary", "multiclass", "strings"])
def test_labels_from_proba_equal_predict(classes: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_iris

    from airlock.registry.flavors._base import classifier_outputs

    data = load_iris() if classes != "binary" else load_breast_cancer()
    X = pd.DataFrame(data.data, columns=[f"f{i}" for i in range(data.data.shape[1])])
    y = data.target_names[data.target] if classes == "strings" else data.target
    import warnings

    for label, est, once in _estimators():
        if (label == "threshold" and classes != "binary") or \
                (label == "xgboost" and classes == "strings"):
            continue  # a threshold needs two classes; XGBoost takes integer labels only
        with warnings.catch_warnings():  # SVC(probability=True) is deprecated in sklearn 1.9
            warnings.simplefilter("ignore", FutureWarning)
            model = est.fit(X, y)
        want_labels, want_proba = model.predict(X), model.predict_proba(X)
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        calls: list[str] = []
        real = type(final).predict

        def counting(self: Any, *a: Any, _real: Any = real, _calls: list[str] = calls,
                     **k: Any) -> Any:
            _calls.append("predict")
            return _real(self, *a, **k)

        with monkeypatch.context() as m:
            m.setattr(type(final), "predict", counting)
            out = classifier_outputs(model, X)
        assert_array_equal(out["prediction"], want_labels, err_msg=label)
        assert out["prediction"].dtype == np.asarray(want_labels).dtype, label
        assert_allclose(np.column_stack([out[f"proba_{c}"] for c in model.classes_]),
                        want_proba, rtol=1e-12, err_msg=label)
        assert (calls == []) == once, (label, calls)


def test_multilabel_forest_still_predicts() -> None:
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from airlock.registry.flavors._base import classifier_outputs

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = np.column_stack([X["a"] > 0, X["b"] > 0]).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    from airlock.registry.flavors._base import _labels_from_proba

    assert not _labels_from_proba(model)  # classes_ is a list: one per output
    out = classifier_outputs(model, X)  # predict() as before: the first output's labels
    assert_array_equal(out["prediction"], model.predict(X)[:, 0])
