"""The model registry against both metadata backends (SQLite and PostgreSQL).

Versions, manifests, aliases and their audit trail, lineage, listing, errors and
concurrent registration from several processes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import multiprocessing
import os
import re
from pathlib import Path
from typing import Any

import pytest

import airlock
from airlock.errors import NotFound, UsageError

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TEXT = ["workclass", "education", "sex"]


# -- a small real model on the Adult sample ---------------------------------------------
@pytest.fixture(scope="module")
def adult(adult_sample: Any) -> Any:
    """The Adult sample with its numeric columns as integers (the CSV pads them with spaces)."""
    import polars as pl

    return adult_sample.with_columns(pl.col(NUMERIC).cast(pl.Int64))


@pytest.fixture(scope="module")
def trained(adult: Any) -> tuple[Any, Any]:
    """A fitted Pipeline(ColumnTransformer(OneHotEncoder, StandardScaler), LogisticRegression)
    and the pandas frame it was fitted on."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = adult.select(NUMERIC + TEXT).to_pandas()
    y = (adult["income"] == ">50K").to_numpy().astype(int)
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), TEXT),
                                (StandardScaler(), NUMERIC)),
        LogisticRegression(max_iter=300),
    ).fit(X, y)
    return model, X


def _register(trained: tuple[Any, Any], name: str = "churn", **kw: Any) -> Any:
    model, X = trained
    kw.setdefault("input_example", X.head(25))
    return airlock.register_model(name, model, **kw)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- versions and manifest ----------------------------------------------------------------
def test_a_version_whose_row_cannot_be_written_leaves_no_files(
        trained: tuple[Any, Any], airlock_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files are uploaded first, then the row is recorded: when recording fails, the
    uploaded files are removed again, so no orphan version folder is left in the store."""
    from airlock.errors import StoreUnavailable
    from airlock.store import get_store

    store = get_store()

    def down(**_: Any) -> Any:
        raise StoreUnavailable("the database went away")

    with monkeypatch.context() as mp:  # undone on leaving; AIRLOCK_HOME stays set
        mp.setattr(store.models, "register", down)
        with pytest.raises(StoreUnavailable, match="went away"):
            _register(trained, "orphan")
    folder = airlock_home / "artifacts" / "models" / "orphan"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
    assert _register(trained, "orphan").version == 1


def test_versions_are_numbered_1_2_3(backend: str, trained: tuple[Any, Any]) -> None:
    made = [_register(trained).version for _ in range(3)]
    assert made == [1, 2, 3]
    listed = airlock.list_versions("churn")
    assert [v.version for v in listed] == [1, 2, 3]
    assert {v.created_by for v in listed} == {"tester"}
    assert {v.flavor for v in listed} == {"sklearn"}
    # every version has its own folder of files
    assert len({v.artifact_uri for v in listed}) == 3
    # a second model starts its own numbering
    assert _register(trained, "other").version == 1


def test_manifest_describes_the_version(backend: str, trained: tuple[Any, Any],
                                       airlock_home: Path) -> None:
    import pyarrow as pa
    import sklearn
    import skops

    model, X = trained
    example = X.head(25)
    version = _register(trained)
    m = version.manifest

    assert m["flavor"] == "sklearn"
    loader = importlib.import_module(m["loader"])  # the loader names an importable module
    assert any(getattr(obj, "name", None) == "sklearn" for obj in vars(loader).values())

    # signature: input columns with the Arrow types of the example, in its order
    want = pa.Table.from_pandas(example, preserve_index=False).schema
    assert [(c["name"], c["type"]) for c in m["signature"]["inputs"]] == [
        (f.name, str(f.type)) for f in want]
    assert [c["name"] for c in m["signature"]["inputs"]] == NUMERIC + TEXT
    assert dict((c["name"], c["type"]) for c in m["signature"]["inputs"])["age"] == "int64"
    outputs = {c["name"]: c["type"] for c in m["signature"]["outputs"]}
    assert set(outputs) == {"prediction", *(f"proba_{c}" for c in model.classes_)}
    assert outputs["proba_1"] == "double"

    assert m["libraries"]["scikit-learn"] == sklearn.__version__
    assert m["libraries"]["skops"] == skops.__version__

    # files: the sha256 of every stored file, and a digest over them
    folder = airlock_home / "artifacts" / version.artifact_uri
    on_disk = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    manifest_files = [k for k in on_disk if k.endswith("manifest.json")]
    assert len(manifest_files) == 1
    assert json.loads(on_disk[manifest_files[0]].read_text()) == m
    data_files = {k: p for k, p in on_disk.items() if k not in manifest_files}
    assert set(m["files"]) == set(data_files)
    assert any(k.endswith(".skops") for k in m["files"])
    for rel, path in data_files.items():
        assert m["files"][rel] == _sha256(path), rel
    assert re.fullmatch(r"[0-9a-f]{64}", m["sha256"])
    assert m["sha256"] == hashlib.sha256(
        json.dumps(m["files"], sort_keys=True).encode()).hexdigest()
    # the database hands back the same manifest as the one written next to the files
    assert airlock.get_model_version("churn@1").manifest == m


# -- aliases ------------------------------------------------------------------------------
def test_aliases_set_move_delete_and_resolve(backend: str, trained: tuple[Any, Any]) -> None:
    for _ in range(3):
        _register(trained)

    assert airlock.get_model_version("churn").version == 3  # latest
    assert airlock.get_model_version("churn@2").version == 2

    v = airlock.set_alias("churn@1", "champion")
    assert (v.version, v.aliases) == (1, ["champion"])
    assert airlock.get_model_version("churn@champion").version == 1
    assert airlock.load_model("churn@champion").version.version == 1

    airlock.set_alias("churn@3", "champion")  # move
    assert airlock.get_model_version("churn@champion").version == 3
    assert airlock.get_model_version("churn@1").aliases == []
    assert airlock.get_model_version("churn@3").aliases == ["champion"]
    assert airlock.get_model_version("churn@3").ref == "churn@3"

    airlock.set_alias("churn", "latest-good")  # a bare name points at the latest version
    assert airlock.get_model_version("churn@latest-good").version == 3

    assert airlock.delete_alias("churn", "champion") == 3
    with pytest.raises(NotFound, match="churn@champion"):
        airlock.get_model_version("churn@champion")
    assert airlock.get_model_version("churn@3").aliases == ["latest-good"]


def test_alias_history_lists_set_move_remove(backend: str, trained: tuple[Any, Any]) -> None:
    for _ in range(3):
        _register(trained)
    _register(trained, "unrelated")
    airlock.set_alias("churn@1", "prod")
    airlock.set_alias("churn@3", "prod")
    airlock.set_alias("churn@3", "prod")  # already there: nothing to record
    airlock.set_alias("unrelated@1", "prod")
    airlock.delete_alias("churn", "prod")

    history = airlock.alias_history("churn")
    assert [(e.action, e.payload["alias"], e.payload["from"], e.payload["to"])
            for e in history] == [
        ("alias.set", "prod", None, 1),
        ("alias.moved", "prod", 1, 3),
        ("alias.removed", "prod", 3, None),
    ]
    assert {e.actor for e in history} == {"tester"}
    assert {e.subject for e in history} == {"models/churn"}
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    assert [e.time for e in history] == sorted(e.time for e in history)
    assert [e.action for e in airlock.alias_history("unrelated")] == ["alias.set"]
    assert airlock.verify_events().ok


# -- lineage ------------------------------------------------------------------------------
def test_lineage_records_datasets(backend: str, trained: tuple[Any, Any], adult: Any,
                                  tmp_path: Path) -> None:
    from airlock.store import get_store

    csv = tmp_path / "train.csv"
    adult.write_csv(csv)
    version = _register(trained, datasets=[adult, csv])

    want = [airlock.fingerprint(adult), airlock.fingerprint(csv)]
    recorded = version.manifest["datasets"]
    assert [d["digest"] for d in recorded] == [w.digest for w in want]
    assert [d["rows"] for d in recorded] == [adult.height, adult.height]
    assert recorded[1]["uri"] == str(csv.absolute())
    assert recorded[1]["digest"] == _sha256(csv)
    assert sorted(get_store().models.dataset_digests("churn", 1)) == sorted(
        w.digest for w in want)
    # reading the version back gives the same lineage
    assert airlock.get_model_version("churn@1").manifest["datasets"] == recorded


def test_lineage_links_the_run(backend: str, trained: tuple[Any, Any]) -> None:
    with airlock.start_run("registry-test") as run:
        explicit = _register(trained, run=run)
        implicit = _register(trained)  # the active run is picked up
    by_id = _register(trained, run=run.id)
    plain = _register(trained)

    assert explicit.run_id == run.id
    assert airlock.get_model_version("churn@1").run_id == run.id
    assert airlock.get_model_version("churn@2").run_id == run.id
    assert implicit.run_id == run.id
    assert by_id.run_id == run.id
    assert plain.run_id is None
    assert airlock.get_run(run.id).status == "FINISHED"

    with pytest.raises(NotFound, match="no-such-run"):
        _register(trained, run="no-such-run")
    assert [v.version for v in airlock.list_versions("churn")] == [1, 2, 3, 4]


# -- listing ------------------------------------------------------------------------------
def test_list_models_shows_aliases_and_latest(backend: str, trained: tuple[Any, Any]) -> None:
    assert airlock.list_models() == []
    for _ in range(3):
        _register(trained, "beta")
    _register(trained, "alpha")
    airlock.set_alias("beta@2", "prod")
    airlock.set_alias("beta@3", "canary")

    models = {m.name: m for m in airlock.list_models()}
    assert sorted(models) == ["alpha", "beta"]
    assert models["beta"].latest_version == 3
    assert models["beta"].aliases == {"canary": 3, "prod": 2}
    assert models["alpha"].latest_version == 1
    assert models["alpha"].aliases == {}
    assert [m.name for m in airlock.list_models()] == ["alpha", "beta"]


# -- errors -------------------------------------------------------------------------------
def test_unknown_model_version_alias_are_not_found(backend: str,
                                                   trained: tuple[Any, Any]) -> None:
    _register(trained)
    with pytest.raises(NotFound, match="ghost"):
        airlock.load_model("ghost")
    with pytest.raises(NotFound, match="ghost"):
        airlock.get_model_version("ghost@1")
    with pytest.raises(NotFound, match="ghost"):
        airlock.list_versions("ghost")
    with pytest.raises(NotFound, match="ghost"):
        airlock.alias_history("ghost")
    with pytest.raises(NotFound, match="churn@7"):
        airlock.load_model("churn@7")
    with pytest.raises(NotFound, match="churn@7"):
        airlock.set_alias("churn@7", "prod")
    with pytest.raises(NotFound, match="churn@nightly"):
        airlock.load_model("churn@nightly")
    with pytest.raises(NotFound, match="churn@nightly"):
        airlock.delete_alias("churn", "nightly")
    # nothing was created by the failed calls
    assert [m.name for m in airlock.list_models()] == ["churn"]
    assert airlock.alias_history("churn") == []


@pytest.mark.parametrize("alias", ["123", "a b", "", "prod!"])
def test_invalid_alias_is_a_usage_error(backend: str, trained: tuple[Any, Any],
                                        alias: str) -> None:
    _register(trained)
    with pytest.raises(UsageError, match="invalid alias") as info:
        airlock.set_alias("churn@1", alias)
    assert not isinstance(info.value, NotFound)
    assert repr(alias) in str(info.value)
    assert airlock.list_models()[0].aliases == {}


@pytest.mark.parametrize("ref", ["a@@b", "x@", "churn@0", "@3", "bad name"])
def test_invalid_reference_is_a_usage_error(backend: str, trained: tuple[Any, Any],
                                            ref: str) -> None:
    _register(trained)
    for call in (airlock.get_model_version, airlock.load_model):
        with pytest.raises(UsageError) as info:
            call(ref)
        assert not isinstance(info.value, NotFound)
        assert repr(ref) in str(info.value) or repr(ref.partition("@")[0]) in str(info.value)


# -- concurrency --------------------------------------------------------------------------
def score_rows(df: Any) -> Any:
    """A model by reference: cheap to register in a freshly spawned process."""
    return df["x"] * 2


def _register_concurrently(barrier: Any, queue: Any, count: int) -> None:
    try:
        # Import and open the store before the barrier, so the registrations overlap.
        from airlock.registry import register_model
        from airlock.store import get_store

        get_store()
        barrier.wait(timeout=60)
        made = [register_model("shared", score_rows).version for _ in range(count)]
        queue.put(("ok", os.getpid(), made))
    except BaseException as exc:
        queue.put(("error", os.getpid(), repr(exc)))


@pytest.mark.slow
def test_concurrent_registration_gives_consecutive_versions(backend: str) -> None:
    # Create the (empty) store first: this test is about allocating version numbers, not
    # about several processes creating a brand-new database at once.
    assert airlock.list_models() == []
    ctx = multiprocessing.get_context("spawn")
    workers, each = 4, 3
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_register_concurrently, args=(barrier, queue, each))
             for _ in range(workers)]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [r for r in results if r[0] != "ok"] == []
    assert all(p.exitcode == 0 for p in procs)
    got = sorted(v for _, _, made in results for v in made)
    assert got == list(range(1, workers * each + 1))
    for _, _, made in results:  # each process saw its own versions increase
        assert made == sorted(made)
    listed = airlock.list_versions("shared")
    assert [v.version for v in listed] == got
    assert len({v.artifact_uri for v in listed}) == workers * each
    assert airlock.verify_events().ok
    registered = airlock.list_events(subject="models/shared", action="version.registered")
    assert sorted(e.payload["version"] for e in registered) == got


def test_skops_trusts_only_allow_listed_modules(trained: tuple[Any, Any]) -> None:
    """A skops file holding e.g. ``posix.system`` (a FunctionTransformer calling os.system)
    is refused at registration unless the caller vouches for it with trusted=True."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from airlock.errors import UntrustedArtifact

    X = np.random.default_rng(0).random((40, 2))
    y = (X[:, 0] > 0.5).astype(int)
    evil = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(X, y)
    evil.steps[0] = ("f", FunctionTransformer(os.system))
    with pytest.raises(UntrustedArtifact, match=r"outside the modules airlock trusts .*: "
                       r"posix\.system; .*trusted=True"):
        airlock.register_model("evil", evil)
    assert airlock.list_models() == []
    vouched = airlock.register_model("evil", evil, trusted=True)
    assert vouched.manifest["options"]["trusted_types"] == ["posix.system"]
    # estimator types from scikit-learn itself need no trust
    fitted = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    hgb = airlock.register_model("hgb", fitted)
    assert hgb.manifest["options"]["trusted_types"] == [
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    loaded = airlock.load_model("hgb@1").predictor.model  # type: ignore[attr-defined]
    assert (loaded.predict(X) == fitted.predict(X)).all()
    # the demo's pipeline holds a functools.partial of a scikit-learn function: trusted,
    # since the callable it wraps is listed and checked on its own
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    prep = ColumnTransformer([("cat", OrdinalEncoder(), [0]), ("num", "passthrough", [1])])
    demo = make_pipeline(prep, HistGradientBoostingClassifier(max_iter=3)).fit(X, y)
    assert airlock.register_model("demo", demo).version == 1
