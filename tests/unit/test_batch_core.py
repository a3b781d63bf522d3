"""The one scoring function of batch jobs: per-row conformance to the signature (the reasons
the server's 422 gives), rows the model refuses found by halving, and output row for row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from airlock.batch import Scorer
from airlock.batch._core import INPUTS, MAX_REFUSED_ROWS, REASON, VERSION
from airlock.errors import InvalidInput
from airlock.registry import MISSING_VALUE, LoadedModel, conform_rows
from airlock.registry._signature import conform
from airlock.store import VersionRecord

SIGNATURE = {"inputs": [{"name": "age", "type": "int64", "nullable": False},
                        {"name": "score", "type": "double", "nullable": True},
                        {"name": "city", "type": "string", "nullable": False}]}
REF = "m@3"


class Doubler:
    """Refuses ages over 150, as a model's own validation would."""

    calls = 0

    def predict(self, df: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        Doubler.calls += 1
        if (df.age > 150).any():
            raise ValueError("age out of range")
        return {"prediction": df.age.to_numpy() * 2, "proba_1": df.score.fillna(0).to_numpy()}


def model() -> LoadedModel:
    version = VersionRecord(name="m", version=3, flavor="python", artifact_uri="x",
                            manifest={"signature": SIGNATURE}, run_id=None, description=None,
                            created_at=0, created_by="t")
    return LoadedModel(version, Doubler())


def table(**overrides: list[Any]) -> pa.Table:
    cols: dict[str, list[Any]] = {"id": [1, 2, 3, 4], "age": [30, 40, 50, 60],
                                  "score": [0.1, None, 0.3, 0.4],
                                  "city": ["a", "b", "c", "d"]}
    cols.update(overrides)
    return pa.table(cols)


def test_conforming_rows_are_one_conform_call() -> None:
    t = table()
    got, reasons = conform_rows(t, SIGNATURE, REF)
    assert reasons is None and got.equals(conform(t, SIGNATURE, REF))


def test_each_bad_row_gets_the_reason_conform_gives_for_it() -> None:
    t = table(age=["30", "forty", "50", None], city=["a", None, "c", "d"])
    got, reasons = conform_rows(t, SIGNATURE, REF)
    assert reasons is not None
    texts = reasons.to_pylist()
    with pytest.raises(InvalidInput) as one:
        conform(t.slice(1, 1), SIGNATURE, REF)
    assert texts[1] == one.value.message  # the first failing column of the row wins
    assert texts[3] == MISSING_VALUE.format(name="age", ref=REF)
    assert texts[0] is None and texts[2] is None
    assert got.column("age").to_pylist() == [30, 50]
    assert got.schema.field("age").type == pa.int64()


def test_nan_is_missing_where_the_signature_allows_none() -> None:
    sig = {"inputs": [{"name": "score", "type": "double", "nullable": False}]}
    _, reasons = conform_rows(table(score=[0.1, float("nan"), 0.3, None]), sig, REF)
    assert reasons is not None
    assert reasons.to_pylist() == [None, MISSING_VALUE.format(name="score", ref=REF), None,
                                   MISSING_VALUE.format(name="score", ref=REF)]


def test_a_missing_column_or_a_wrong_column_type_rejects_every_row() -> None:
    got, reasons = conform_rows(table().drop_columns(["city"]), SIGNATURE, REF)
    assert got.num_rows == 0 and reasons is not None
    assert set(reasons.to_pylist()) == {f"missing input column 'city' for {REF}"}
    _, reasons = conform_rows(table(city=[1, 2, 3, 4]), SIGNATURE, REF)
    assert reasons is not None
    assert set(reasons.to_pylist()) == {f"input column 'city' of {REF} must be text, got int64"}


def test_an_optional_column_not_sent_is_all_nulls() -> None:
    sig = {"inputs": [*SIGNATURE["inputs"],
                      {"name": "k", "type": "int64", "nullable": True, "optional": True}]}
    got = conform(table(), sig, REF)
    assert got.column_names == ["age", "score", "city", "k"]
    assert got.column("k").type == pa.int64() and got.column("k").null_count == 4
    sent = conform(table(k=[1, None, 3, 4]), sig, REF)
    assert sent.column("k").to_pylist() == [1, None, 3, 4]
    got, reasons = conform_rows(table(age=["30", "x", "50", "60"]), sig, REF)
    assert got.num_rows == 3 and reasons is not None and got.column("k").null_count == 3
    with pytest.raises(InvalidInput, match="must be int64"):
        conform(table(k=["a", "b", "c", "d"]), sig, REF)
    # a required column is still required
    with pytest.raises(InvalidInput, match="missing input column 'city'"):
        conform(table().drop_columns(["city"]), sig, REF)


def test_scorer_keeps_rows_in_place_with_outputs_or_reasons() -> None:
    scorer = Scorer(model(), keep=["id"], with_inputs=True)
    out = scorer(table(age=[30, 400, 50, 60], city=["a", "b", None, "d"]).to_batches()[0])
    assert out.schema.names == ["id", "prediction", "proba_1", VERSION, REASON, INPUTS]
    assert out.column("id").to_pylist() == [1, 2, 3, 4]
    assert out.column("prediction").to_pylist() == [60, None, None, 120]
    reasons = out.column(REASON).to_pylist()
    assert reasons[1] == f"{REF} could not score the input: age out of range"
    assert reasons[2] == MISSING_VALUE.format(name="city", ref=REF)
    assert reasons[0] is None and reasons[3] is None
    assert out.column(VERSION).to_pylist() == [3, 3, 3, 3]
    assert out.column(INPUTS).to_pylist()[3] == {"age": 60, "score": 0.4, "city": "d"}


def test_the_same_rows_score_the_same_whatever_the_batching() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    t = pa.table({"id": np.arange(n), "age": rng.integers(0, 160, n),
                  "score": rng.normal(size=n), "city": rng.choice(["a", "b"], n)})
    scorer = Scorer(model(), keep=["id"])
    whole = pa.Table.from_batches([scorer(t.to_batches()[0])])
    parts = pa.Table.from_batches([scorer(b) for b in t.to_batches(max_chunksize=137)])
    assert parts.combine_chunks().equals(whole.combine_chunks())
    assert whole.column(REASON).null_count == int((t.column("age").to_numpy() <= 150).sum())


def test_a_model_that_refuses_everything_fails_the_batch() -> None:
    n = MAX_REFUSED_ROWS * 2
    t = pa.table({"id": np.arange(n), "age": np.full(n, 999), "score": np.zeros(n),
                  "city": ["a"] * n})
    with pytest.raises(InvalidInput, match="could not score the input"):
        Scorer(model())(t.to_batches()[0])
