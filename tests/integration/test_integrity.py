"""Stored model files are verified before loading; inputs are conformed to the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from tests.integration.store_helpers import read_only

import airlock
from airlock.errors import IntegrityError, InvalidInput

NUMERIC = ["age", "education_num", "hours_per_week"]
TEXT = ["workclass", "sex"]


@pytest.fixture(scope="module")
def frame(adult_sample: Any) -> Any:
    """Adult features as pandas: integer numerics (the CSV pads them with spaces) and text."""
    import polars as pl

    return (adult_sample.with_columns(pl.col(NUMERIC).cast(pl.Int64))
            .select(NUMERIC + TEXT + ["income"]).to_pandas())


@pytest.fixture(scope="module")
def model(frame: Any) -> Any:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    y = (frame["income"] == ">50K").to_numpy().astype(int)
    return make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), TEXT),
                                (StandardScaler(), NUMERIC)),
        LogisticRegression(max_iter=300),
    ).fit(frame[NUMERIC + TEXT], y)


@pytest.fixture
def stored(model: Any, frame: Any, airlock_home: Path) -> tuple[Any, Path]:
    """Version 1 of 'guarded' and the folder holding its files."""
    version = airlock.register_model("guarded", model, input_example=frame[NUMERIC + TEXT].head(20))
    folder = airlock_home / "artifacts" / version.artifact_uri
    assert folder.is_dir()
    return version, folder


# -- stored files -------------------------------------------------------------------------
def _model_file(version: Any, folder: Path) -> Path:
    path = folder / version.manifest["options"]["file"]
    assert path.is_file()
    return path


def test_flipped_byte_is_refused(stored: tuple[Any, Path], frame: Any) -> None:
    version, folder = stored
    airlock.load_model("guarded@1").predict(frame.head(3))  # loads before tampering
    path = _model_file(version, folder)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01  # one bit of one byte
    path.write_bytes(bytes(data))

    with pytest.raises(IntegrityError) as info:
        airlock.load_model("guarded@1")
    assert path.name in str(info.value)
    assert "guarded" in str(info.value)  # the path under models/guarded/...

    # the metadata is untouched: the version is still listed, with the recorded digest
    assert [v.version for v in airlock.list_versions("guarded")] == [1]
    again = airlock.get_model_version("guarded@1")
    assert again.manifest == version.manifest
    assert again.manifest["files"][path.name] == version.manifest["files"][path.name]


def test_other_files_are_verified_too(stored: tuple[Any, Path]) -> None:
    version, folder = stored
    others = [rel for rel in version.manifest["files"]
              if rel != version.manifest["options"]["file"]]
    assert others, "expected the input example next to the model file"
    target = folder / others[0]
    target.write_text(target.read_text() + " ")
    with pytest.raises(IntegrityError, match=Path(others[0]).name):
        airlock.load_model("guarded@1")


def test_deleted_file_is_refused(stored: tuple[Any, Path]) -> None:
    version, folder = stored
    path = _model_file(version, folder)
    path.unlink()
    with pytest.raises(IntegrityError, match=path.name):
        airlock.load_model("guarded")
    assert [v.version for v in airlock.list_versions("guarded")] == [1]
    assert airlock.list_models()[0].latest_version == 1


def test_restored_file_loads_again(stored: tuple[Any, Path], model: Any, frame: Any) -> None:
    version, folder = stored
    path = _model_file(version, folder)
    original = path.read_bytes()
    path.write_bytes(original[:-1])  # truncated
    with pytest.raises(IntegrityError):
        airlock.load_model("guarded@1")
    path.write_bytes(original)
    out = airlock.load_model("guarded@1").predict(frame[NUMERIC + TEXT])
    assert_array_equal(out["prediction"].to_numpy(), model.predict(frame[NUMERIC + TEXT]))


# -- signature enforcement ----------------------------------------------------------------
def test_missing_column_is_named(stored: tuple[Any, Path], frame: Any) -> None:
    loaded = airlock.load_model("guarded@1")
    with pytest.raises(InvalidInput, match="'education_num'") as info:
        loaded.predict(frame[NUMERIC + TEXT].drop(columns=["education_num"]))
    assert "guarded@1" in str(info.value)
    with pytest.raises(InvalidInput, match=r"'age'.*'sex'"):
        loaded.predict(frame[["education_num", "hours_per_week", "workclass"]])


def test_text_in_numeric_column_is_named(stored: tuple[Any, Path], frame: Any) -> None:
    import polars as pl

    loaded = airlock.load_model("guarded@1")
    bad = frame[NUMERIC + TEXT].head(5).copy()
    bad["hours_per_week"] = ["40", "abc", "38", "20", "45"]
    with pytest.raises(InvalidInput, match="'hours_per_week'"):
        loaded.predict(bad)
    bad_polars = pl.from_pandas(frame[NUMERIC + TEXT].head(3)).with_columns(
        pl.Series("age", ["31", "abc", "40"]))
    with pytest.raises(InvalidInput, match="'age'"):
        loaded.predict(bad_polars)


@pytest.mark.parametrize("shape", ["records", "columns"])
def test_text_in_numeric_column_of_python_input_is_named(stored: tuple[Any, Path],
                                                         frame: Any, shape: str) -> None:
    loaded = airlock.load_model("guarded@1")
    rows = frame[NUMERIC + TEXT].head(2).to_dict(orient="records")
    rows[1]["age"] = "abc"
    table: Any = rows if shape == "records" else {k: [r[k] for r in rows] for k in rows[0]}
    with pytest.raises(InvalidInput, match="'age'"):
        loaded.predict(table)


def test_number_in_text_column_is_named(stored: tuple[Any, Path], frame: Any) -> None:
    loaded = airlock.load_model("guarded@1")
    bad = frame[NUMERIC + TEXT].head(5).copy()
    bad["sex"] = [1, 0, 1, 1, 0]
    with pytest.raises(InvalidInput, match="'sex'"):
        loaded.predict(bad)


def test_extra_columns_are_ignored(stored: tuple[Any, Path], model: Any, frame: Any) -> None:
    loaded = airlock.load_model("guarded@1")
    X = frame[NUMERIC + TEXT]
    wider = frame.assign(extra_id=np.arange(len(frame)), note="ignored")  # income, id, note
    out = loaded.predict(wider)
    assert list(out.columns) == ["prediction", "proba_0", "proba_1"]
    assert_allclose(out["proba_1"].to_numpy(), model.predict_proba(X)[:, 1], rtol=0,
                    atol=1e-12)


def test_int_for_float_column_is_cast(frame: Any) -> None:
    from sklearn.linear_model import LinearRegression

    X = frame[["age", "education_num"]].astype("float64")
    y = frame["hours_per_week"].to_numpy().astype(float)
    reg = LinearRegression().fit(X, y)
    airlock.register_model("hours", reg, input_example=X.head(10))
    loaded = airlock.load_model("hours")
    assert {c["type"] for c in loaded.signature["inputs"]} == {"double"}

    ints = frame[["age", "education_num"]].head(50).astype("int64")
    out = loaded.predict(ints)
    assert_allclose(out["prediction"].to_numpy(), reg.predict(ints.astype("float64")),
                    rtol=1e-12)
    # a float that is not a whole number is refused for an integer column, not truncated
    airlock.register_model("ints", reg, input_example=ints.head(5))
    int_model = airlock.load_model("ints")
    assert {c["type"] for c in int_model.signature["inputs"]} == {"int64"}
    assert_allclose(int_model.predict({"age": [30.0], "education_num": [9]})["prediction"],
                    reg.predict(X.head(1).assign(age=30.0, education_num=9.0)), rtol=1e-12)
    with pytest.raises(InvalidInput, match="'age'"):
        int_model.predict({"age": [30.5], "education_num": [9]})


def test_an_emptied_database_is_not_silently_recreated(stored: tuple[Any, Path],
                                                       airlock_home: Path) -> None:
    from airlock.errors import StoreUnavailable
    from airlock.store import close_stores, get_store

    close_stores()
    (airlock_home / "airlock.db").write_bytes(b"")  # `: > .airlock/airlock.db`
    for extra in ("airlock.db-wal", "airlock.db-shm"):
        (airlock_home / extra).unlink(missing_ok=True)
    with pytest.raises(StoreUnavailable, match=r"is empty but the artifact store .* holds "
                       "model versions: refusing to create a new database"):
        get_store()
    assert (airlock_home / "airlock.db").stat().st_size == 0


def test_an_emptied_database_beside_an_audit_head_is_refused(airlock_home: Path) -> None:
    from airlock.errors import StoreUnavailable
    from airlock.store import close_stores, get_store

    airlock.start_run("r").end()  # events, no models
    close_stores()
    for name in ("airlock.db", "airlock.db-wal", "airlock.db-shm"):
        (airlock_home / name).unlink(missing_ok=True)
    with pytest.raises(StoreUnavailable, match="holds a signed audit head"):
        get_store()




def test_read_only_artifacts_folder_is_an_airlock_error_and_no_version(
        model: Any, airlock_home: Path) -> None:
    from airlock.errors import StoreUnavailable

    airlock.start_run("setup").end()  # the store and its artifacts folder exist
    models = airlock_home / "artifacts" / "models"
    models.mkdir(parents=True)
    run = airlock.start_run("train")
    with read_only(models), pytest.raises(
            StoreUnavailable, match=f"cannot write the artifact store at {models}"), run:
        airlock.register_model("ro", model)
    assert airlock.get_run(run.id).status == "FAILED"
    assert airlock.list_models() == []


def test_writing_a_read_only_database_is_an_airlock_error(airlock_home: Path) -> None:
    from airlock.errors import StoreUnavailable
    from airlock.store import close_stores

    airlock.start_run("setup").end()
    close_stores()
    db = airlock_home / "airlock.db"
    with read_only(db, airlock_home):
        assert [r.experiment for r in airlock.search_runs()] == ["setup"]
        with pytest.raises(StoreUnavailable, match="readonly database"):
            airlock.start_run("more")
        close_stores()
