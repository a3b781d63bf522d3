"""Importing MLflow model directories (sklearn and python_function flavors) into airlock."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import airlock
from airlock.errors import NotFound, UntrustedArtifact, UsageError

with warnings.catch_warnings():
    # MLflow's own import infers schemas for its agent types and warns about an `Any` hint
    # in its code, not ours.
    warnings.filterwarnings("ignore", message=r".*Any type hint is inferred as AnyType",
                            category=UserWarning)
    pytest.importorskip(
        "mlflow", reason="mlflow is a bench/dev dependency: pip install -e '.[bench]' to run "
        "the MLflow import tests")
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TEXT = ["workclass", "education", "sex"]
# Saving with explicit requirements: MLflow would otherwise infer them by loading the model
# in a subprocess, which takes seconds and says nothing about the import.
REQUIREMENTS = ["scikit-learn"]


class ScaledSum(mlflow.pyfunc.PythonModel):
    """A python_function-only MLflow model (no sklearn flavor), defined at module level."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[float]:
        total = sum(w * model_input[c].astype("float64") for c, w in self.weights.items())
        return [float(v) for v in total]


@pytest.fixture(scope="module")
def data(adult_sample: Any) -> tuple[Any, Any]:
    import polars as pl

    adult = adult_sample.with_columns(pl.col(NUMERIC).cast(pl.Int64))
    X = adult.select(NUMERIC + TEXT).to_pandas()
    return X, (adult["income"] == ">50K").to_numpy().astype(np.int64)


@pytest.fixture(scope="module")
def model(data: tuple[Any, Any]) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = data
    return make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), TEXT),
                                (StandardScaler(), NUMERIC)),
        LogisticRegression(max_iter=300),
    ).fit(X, y)


def _signature(X: Any) -> Any:
    """The MLflow column signature of ``X``, spelled out (MLflow's inference gives up and
    records `Any` when its own pandas deprecation warnings are errors, as they are here)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    kinds = {"int64": "long", "float64": "double", "str": "string", "object": "string"}
    return ModelSignature(inputs=Schema([ColSpec(kinds[str(t)], str(c))
                                         for c, t in X.dtypes.items()]))


def _save(model: Any, X: Any, path: Path, **kw: Any) -> Path:
    signature = _signature(X)
    mlflow.sklearn.save_model(model, str(path), signature=signature,
                              pip_requirements=REQUIREMENTS, **kw)
    assert (path / "MLmodel").is_file()
    return path


def _check_predictions(ref: str, model: Any, X: Any, **kw: Any) -> None:
    out = airlock.load_model(ref, **kw).predict(X)
    assert_array_equal(out["prediction"].to_numpy(), model.predict(X))
    proba = np.column_stack([out[f"proba_{c}"].to_numpy() for c in model.classes_])
    assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-12)


def test_default_format_imports_and_predicts(model: Any, data: tuple[Any, Any],
                                             tmp_path: Path) -> None:
    X, _ = data
    path = _save(model, X, tmp_path / "default")
    version = airlock.import_mlflow(path, "adult")
    assert (version.name, version.version, version.flavor) == ("adult", 1, "sklearn")
    m = version.manifest
    assert m["options"]["format"] == "skops"  # MLflow 3 saves skops by default
    assert m["pickle_based"] is False
    assert m["imported_from"]["format"] == "mlflow"
    assert m["imported_from"]["mlflow_version"] == mlflow.__version__
    assert "MLmodel" in m["files"]
    # the MLflow column signature becomes airlock's
    inputs = {c["name"]: c["type"] for c in m["signature"]["inputs"]}
    assert list(inputs) == NUMERIC + TEXT
    assert inputs["age"] == "int64"
    assert inputs["sex"] == "string"

    _check_predictions("adult@1", model, X)
    # a second import is the next version
    assert airlock.import_mlflow(path, "adult").version == 2


def test_cloudpickle_needs_trust(model: Any, data: tuple[Any, Any], tmp_path: Path) -> None:
    X, _ = data
    path = _save(model, X, tmp_path / "cp", serialization_format="cloudpickle")
    version = airlock.import_mlflow(path, "adult")
    assert version.manifest["pickle_based"] is True
    assert version.manifest["trusted"] is False
    with pytest.raises(UntrustedArtifact, match=r"trusted=True"):
        airlock.load_model("adult@1")
    _check_predictions("adult@1", model, X, trusted=True)  # trusted at load time

    trusted = airlock.import_mlflow(path, "adult", trusted=True)  # trusted at import
    assert trusted.manifest["trusted"] is True
    _check_predictions(f"adult@{trusted.version}", model, X)
    with pytest.raises(UntrustedArtifact):
        airlock.load_model("adult@1")  # the earlier import is still untrusted


TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


@pytest.fixture(scope="module")
def hgb(data: tuple[Any, Any]) -> tuple[Any, Any]:
    """A HistGradientBoostingClassifier: its skops file holds a type beyond skops' safe set."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data
    Xn = X[NUMERIC]
    return HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(Xn, y), Xn


def _save_hgb(hgb: tuple[Any, Any], path: Path) -> Path:
    model, Xn = hgb
    return _save(model, Xn, path, skops_trusted_types=[TREE_PREDICTOR])


def test_skops_types_beyond_the_safe_set_need_trust_at_import(
        hgb: tuple[Any, Any], tmp_path: Path) -> None:
    model, Xn = hgb
    path = _save_hgb(hgb, tmp_path / "hgb")
    airlock.import_mlflow(path, "hgb")
    with pytest.raises(UntrustedArtifact, match="TreePredictor"):
        airlock.load_model("hgb@1")

    trusted = airlock.import_mlflow(path, "hgb", trusted=True)
    assert trusted.manifest["options"]["trusted_types"] == [TREE_PREDICTOR]
    _check_predictions("hgb@2", model, Xn)


def test_skops_types_beyond_the_safe_set_load_when_trusted_at_load(
        hgb: tuple[Any, Any], tmp_path: Path) -> None:
    model, Xn = hgb
    airlock.import_mlflow(_save_hgb(hgb, tmp_path / "hgb"), "hgb")
    _check_predictions("hgb@1", model, Xn, trusted=True)


def test_missing_mlmodel_is_not_found(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    (empty / "model.pkl").write_bytes(b"\x80\x05N.")
    with pytest.raises(NotFound, match="MLmodel"):
        airlock.import_mlflow(empty, "adult")
    with pytest.raises(NotFound):
        airlock.import_mlflow(tmp_path / "does-not-exist", "adult")
    assert airlock.list_models() == []


def test_unsupported_flavor_is_a_usage_error(model: Any, data: tuple[Any, Any],
                                             tmp_path: Path) -> None:
    import yaml

    X, _ = data
    path = _save(model, X, tmp_path / "m")
    spec = yaml.safe_load((path / "MLmodel").read_text())
    spec["flavors"] = {"keras": {"keras_version": "3.0.0", "save_format": "keras"}}
    (path / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(UsageError, match="keras") as info:
        airlock.import_mlflow(path, "adult")
    assert not isinstance(info.value, NotFound)
    assert airlock.list_models() == []


def test_python_function_model_imports_when_trusted(data: tuple[Any, Any],
                                                    tmp_path: Path) -> None:
    X, _ = data
    weights = {"age": 0.5, "hours_per_week": 0.25, "education_num": 2.0}
    path = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(str(path), python_model=ScaledSum(weights), pip_requirements=[])
    spec = (path / "MLmodel").read_text()
    assert "python_function" in spec
    assert "sklearn" not in spec

    version = airlock.import_mlflow(path, "scaled")
    assert version.flavor == "python"
    assert version.manifest["pickle_based"] is True
    with pytest.raises(UntrustedArtifact):
        airlock.load_model("scaled")

    trusted = airlock.import_mlflow(path, "scaled", trusted=True)
    out = airlock.load_model(f"scaled@{trusted.version}").predict(X[list(weights)])
    want = sum(w * X[c].to_numpy(dtype=float) for c, w in weights.items())
    assert_allclose(out["prediction"].to_numpy(), want, rtol=1e-12)


# -- every file the MLmodel names is inside, copied and hashed ------------------------------

def _point_pickled_model_at(path: Path, ref: str) -> None:
    import yaml

    spec = yaml.safe_load((path / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["pickled_model"] = ref
    spec["flavors"]["python_function"]["model_path"] = ref
    (path / "MLmodel").write_text(yaml.safe_dump(spec))


@pytest.mark.parametrize("where", ["absolute", "parent"])
def test_a_model_file_outside_the_directory_is_refused(
        model: Any, data: tuple[Any, Any], tmp_path: Path, where: str) -> None:
    from airlock.errors import InvalidInput

    X, _ = data
    path = _save(model, X, tmp_path / "m", serialization_format="cloudpickle")
    outside = tmp_path / "outside.pkl"
    (path / "model.pkl").rename(outside)
    ref = str(outside) if where == "absolute" else "../outside.pkl"
    _point_pickled_model_at(path, ref)
    with pytest.raises(InvalidInput, match=r"names (pickled_model|model_path): .*outside the model "
                       "directory"):
        airlock.import_mlflow(path, "adult", trusted=True)
    assert airlock.list_models() == []


def test_every_imported_file_is_hashed(model: Any, data: tuple[Any, Any],
                                       tmp_path: Path) -> None:
    X, _ = data
    path = _save(model, X, tmp_path / "m", serialization_format="cloudpickle")
    version = airlock.import_mlflow(path, "adult", trusted=True)
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert set(version.manifest["files"]) == on_disk
    assert "model.pkl" in version.manifest["files"]


def test_a_symlink_in_the_directory_is_refused_not_followed(
        model: Any, data: tuple[Any, Any], tmp_path: Path) -> None:
    from airlock.errors import InvalidInput

    X, _ = data
    path = _save(model, X, tmp_path / "m")
    (path / "zeros.bin").symlink_to("/dev/zero")  # following it would fill TMPDIR
    with pytest.raises(InvalidInput, match=r"zeros.bin is a symlink: airlock imports regular "
                       "files only"):
        airlock.import_mlflow(path, "adult")
    assert airlock.list_models() == []


def test_the_import_is_capped_in_size(model: Any, data: tuple[Any, Any], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock.errors import InvalidInput

    X, _ = data
    path = _save(model, X, tmp_path / "m")
    (path / "big.bin").write_bytes(b"\0" * 50_000)
    monkeypatch.setenv("AIRLOCK_IMPORT_MAX_BYTES", "40000")
    with pytest.raises(InvalidInput, match="holds more than 40000 bytes"):
        airlock.import_mlflow(path, "adult")
    monkeypatch.delenv("AIRLOCK_IMPORT_MAX_BYTES")
    assert airlock.import_mlflow(path, "adult").version == 1


def test_a_file_planted_beside_a_version_is_refused_at_load(
        model: Any, data: tuple[Any, Any], tmp_path: Path, airlock_home: Path) -> None:
    from airlock.errors import IntegrityError

    X, _ = data
    version = airlock.import_mlflow(_save(model, X, tmp_path / "m"), "adult")
    folder = airlock_home / "artifacts" / version.artifact_uri
    (folder / "extra.pkl").write_bytes(b"\x80\x05N.")
    with pytest.raises(IntegrityError, match=r"holds a file its manifest does not list "
                       r"\(extra.pkl\)"):
        airlock.load_model("adult@1")
    (folder / "extra.pkl").unlink()
    _check_predictions("adult@1", model, X)
