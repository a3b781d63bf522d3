"""airlock.evaluate end to end on real data (UCI Adult): the orchestrator, its stored JSON,
determinism, errors raised before any computation, and the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import airlock
from airlock.errors import InvalidInput, NotFound, UsageError

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
CATEGORICAL = ["workclass", "education", "race", "sex"]
FEATURES = NUMERIC + CATEGORICAL


@pytest.fixture(scope="module")
def adult() -> tuple[pl.DataFrame, pl.DataFrame]:
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
            "hours_per_week", "native_country", "income"]
    path = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.data.gz"
    df = pl.read_csv(path, has_header=False, new_columns=cols, n_rows=8000,
                     schema_overrides=dict.fromkeys(cols, pl.String))
    df = df.with_columns(pl.col(cols).str.strip_chars()).with_columns(
        pl.col(NUMERIC).cast(pl.Int64), pl.col(CATEGORICAL).fill_null("?"))
    df = df.select([*FEATURES, "income"])
    return df.head(5000), df.tail(3000)


def _fit(kind: str, train: pl.DataFrame) -> Pipeline:
    if kind == "logistic":
        prep = ColumnTransformer([("num", StandardScaler(), NUMERIC),
                                  ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])
        clf: Any = LogisticRegression(max_iter=500)
    else:
        prep = ColumnTransformer([("num", "passthrough", NUMERIC),
                                  ("cat", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                         unknown_value=-1), CATEGORICAL)])
        clf = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    pipe = Pipeline([("prep", prep), ("clf", clf)])
    return pipe.fit(train.select(FEATURES).to_pandas(), train["income"].to_pandas())


@pytest.fixture
def models(adult: tuple[pl.DataFrame, pl.DataFrame]) -> dict[str, Any]:
    train, _ = adult
    out = {}
    for kind in ("logistic", "boosting"):
        pipe = _fit(kind, train)
        v = airlock.register_model("adult", pipe, input_example=train.select(FEATURES).head(5))
        out[kind] = (v.ref, pipe)
    return out


OPTS: dict[str, Any] = {"target": "income", "slices": ["education"],
                        "sensitive": ["sex", "race"], "bootstrap": 200, "seed": 3}


def test_evaluation_matches_sklearn_and_is_reproducible(models: dict[str, Any],
                                                        adult: Any) -> None:
    _, test = adult
    ref, pipe = models["boosting"]
    ev = airlock.evaluate(ref, test, **OPTS)
    out = ev.to_dict()
    proba = pipe.predict_proba(test.select(FEATURES).to_pandas())[:, 1]
    y = (test["income"] == ">50K").to_numpy().astype(int)
    assert out["task"] == "binary" and out["support"] == test.height
    assert out["overall"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, proba),
                                                                abs=1e-12)
    assert out["overall"]["accuracy"]["value"] == pytest.approx(
        accuracy_score(y, proba >= 0.5), abs=1e-12)
    auc = out["overall"]["roc_auc"]
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    edu = out["slices"]["education"]
    assert sum(v["support"] for v in edu.values()) == test.height
    assert any(v["flagged"] for v in edu.values())  # e.g. Preschool is under 30 rows
    assert set(out["fairness"]) == {"sex", "race", "sex & race"}
    assert out["fairness"]["sex"]["by_group"]["Female"]["support"] == int(
        (test["sex"] == "Female").sum())
    assert out["model"]["sha256"] and out["dataset"]["digest"]
    again = airlock.evaluate(ref, test, **OPTS).to_dict()
    assert json.dumps(again, sort_keys=True) == json.dumps(out, sort_keys=True)
    assert airlock.get_evaluation(ev.id).result == ev.result  # stored as computed


def test_baseline_deltas_are_paired(models: dict[str, Any], adult: Any) -> None:
    _, test = adult
    cand, base = models["boosting"][0], models["logistic"][0]
    out = airlock.evaluate(cand, test, baseline=base, **OPTS).to_dict()
    d = out["baseline"]["deltas"]["roc_auc"]
    assert d["delta"] == pytest.approx(d["candidate"] - d["baseline"], abs=1e-12)
    assert d["candidate"] == out["overall"]["roc_auc"]["value"]
    assert out["baseline"]["model"]["ref"] == base
    same = airlock.evaluate(cand, test, baseline=cand, **OPTS).to_dict()
    assert same["baseline"]["deltas"]["roc_auc"]["delta"] == 0
    assert same["baseline"]["regressed_slices"] == []


def test_errors_come_before_any_computation(models: dict[str, Any], adult: Any,
                                            tmp_path: Path) -> None:
    _, test = adult
    ref = models["boosting"][0]
    with pytest.raises(UsageError, match="'nope' \\(slice\\)"):
        airlock.evaluate(ref, test, target="income", slices=["nope"])
    with pytest.raises(UsageError, match="'label' \\(target\\)"):
        airlock.evaluate(ref, test, target="label")
    with pytest.raises(UsageError, match="unknown task"):
        airlock.evaluate(ref, test, target="income", task="clustering")
    with pytest.raises(UsageError, match="bootstrap"):
        airlock.evaluate(ref, test, target="income", bootstrap=-1)
    with pytest.raises(InvalidInput, match="not among the model's classes"):
        airlock.evaluate(ref, test.with_columns(pl.lit(">50K.").alias("income")),
                         target="income", bootstrap=0)
    with pytest.raises(NotFound):
        airlock.evaluate(ref, tmp_path / "missing.parquet", target="income")
    with pytest.raises(NotFound):
        airlock.evaluate("adult@99", test, target="income")


def test_evaluate_reads_parquet_and_csv_paths(models: dict[str, Any], adult: Any,
                                              tmp_path: Path) -> None:
    _, test = adult
    ref = models["logistic"][0]
    test.write_parquet(tmp_path / "test.parquet")
    test.write_csv(tmp_path / "test.csv")
    a = airlock.evaluate(ref, tmp_path / "test.parquet", target="income", bootstrap=0)
    b = airlock.evaluate(ref, tmp_path / "test.csv", target="income", bootstrap=0)
    assert a.result["overall"]["roc_auc"]["value"] == pytest.approx(
        b.result["overall"]["roc_auc"]["value"], abs=1e-12)
    assert a.result["dataset"]["digest"] != b.result["dataset"]["digest"]  # file bytes
    assert np.isclose(a.result["overall"]["accuracy"]["value"],
                      b.result["overall"]["accuracy"]["value"])


def test_the_evaluation_package_takes_a_loaded_policy_and_the_api_wires_the_rest(
        models: dict[str, Any], adult: Any) -> None:
    """evaluation sits below gates and beside monitor (tests/unit/test_layering.py): it takes
    a loaded policy, and airlock.evaluate loads one from text and records the predictions'
    profile that prediction drift is compared with."""
    from airlock.evaluation import MSG_POLICY_NOT_LOADED
    from airlock.evaluation import evaluate as evaluate_only
    from airlock.gates import load_policy
    from airlock.monitor import evaluation_reference

    _, test = adult
    ref = models["logistic"][0]
    gate = "name: g\nrules:\n  - metric: roc_auc\n    min: 0.5\n"
    with pytest.raises(UsageError) as info:
        evaluate_only(ref, test, target="income", bootstrap=0, policy=gate)  # type: ignore
    assert str(info.value) == MSG_POLICY_NOT_LOADED.format(kind="str")
    seen: list[str] = []
    ev = evaluate_only(ref, test, target="income", bootstrap=0, policy=load_policy(gate),
                       on_stored=lambda eid, outputs: seen.append(f"{eid}:{outputs.num_rows}"))
    assert ev.passed is True and seen == [f"{ev.id}:{test.height}"]
    api = airlock.evaluate(ref, test, target="income", bootstrap=0, seed=1, policy=gate)
    assert api.passed is True and api.decision is not None
    lv = airlock.get_model_version(ref)
    profile, what = evaluation_reference(lv.name, lv.version)
    assert profile is not None and api.id in what


def test_slices_in_their_natural_order_everywhere(models: dict[str, Any], adult: Any) -> None:
    """Issue 12 item 16: slices sorted as text read ``40-55, 55+, <40``; the JSON, the
    evaluation page and the model card now list them as ``<40, 40-55, 55+``."""
    from airlock.evaluation import render_report
    from airlock.evidence import model_card

    _, test = adult
    bands = test.with_columns(age_band=pl.when(pl.col("age") < 40).then(pl.lit("<40"))
                              .when(pl.col("age") < 55).then(pl.lit("40-55"))
                              .otherwise(pl.lit("55+")))
    ref = models["logistic"][0]
    out = airlock.evaluate(ref, bands, target="income", slices=["age_band"],
                           sensitive=["age_band"], bootstrap=0).result
    order = ["<40", "40-55", "55+"]
    assert list(out["slices"]["age_band"]) == order
    assert list(out["fairness"]["age_band"]["by_group"]) == order
    html = render_report(out)
    section = html[html.index('id="slices"'):html.index('id="fairness"')]
    cells = [f"<td>{v.replace('<', '&lt;')}</td>" for v in order]
    assert [section.index(c) for c in cells] == sorted(section.index(c) for c in cells)
    card = model_card(ref)
    rows = [card.index(f"| age_band | {v.replace('<', '&lt;')} |") for v in order]
    assert rows == sorted(rows)


def test_an_integer_target_is_coded_as_numbers(adult: Any) -> None:
    """A 0/1 integer target is matched to the classes by value (no text per row), with the
    same numbers as the text path, and a value that is not a class is still named."""
    train, test = adult
    y = (train["income"] == ">50K").cast(pl.Int64).to_numpy()
    X = train.select(NUMERIC).to_pandas()
    ref = airlock.register_model("adult-01", LogisticRegression(max_iter=300).fit(X, y),
                                 input_example=X.head(3)).ref
    ints = test.with_columns((pl.col("income") == ">50K").cast(pl.Int64).alias("y"))
    a = airlock.evaluate(ref, ints.with_columns(pl.col("y").cast(pl.String)), target="y",
                         bootstrap=0, store=False).result
    b = airlock.evaluate(ref, ints, target="y", bootstrap=0, store=False).result
    assert a["overall"] == b["overall"]
    with pytest.raises(InvalidInput, match="target value '2' is not among the model's"):
        airlock.evaluate(ref, ints.with_columns(pl.lit(2).alias("y")), target="y",
                         bootstrap=0, store=False)
