"""MLflow scoring protocol ⇄ Arrow: every body MLflow's scoring server takes gives the same
table (checked against MLflow's own parser on real Adult rows), the answer is shaped as MLflow
answers, and every malformed body is a UsageError / InvalidInput naming what is wrong."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from airlock.errors import InvalidInput, UsageError
from airlock.serve._payload import Pending, merge, to_table
from airlock.serve._scoring import FORMATS, decode_scoring, encode_scoring

COLS = ["age", "sex", "hours"]
ROWS = [[39, "Male", 40.5], [50, "Female", 13.0], [38, "Male", 40.0]]
EXPECTED = {"age": [39, 50, 38], "sex": ["Male", "Female", "Male"], "hours": [40.5, 13.0, 40.0]}
RECORDS = [dict(zip(COLS, r, strict=True)) for r in ROWS]


def decode(doc: Any, content_type: str = "application/json",
           columns: list[str] | None = None) -> pa.Table:
    """decode_scoring, then the Arrow conversion the server does per request (to_table)."""
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    data = decode_scoring(raw, content_type, COLS if columns is None else columns)
    return data if isinstance(data, pa.Table) else to_table(data)


def to_csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def mlflow_scoring() -> Iterator[ModuleType]:
    """MLflow's own scoring server module (its import warns; pytest makes warnings errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = pytest.importorskip("mlflow.pyfunc.scoring_server")
    yield module


# --- every format gives the same table -----------------------------------------------------

BODIES = {
    "dataframe_split": {"dataframe_split": {"columns": COLS, "data": ROWS}},
    "dataframe_split with index": {"dataframe_split": {"index": [0, 1, 2], "columns": COLS,
                                                       "data": ROWS}},
    "dataframe_records": {"dataframe_records": RECORDS},
    "instances records": {"instances": RECORDS},
    "instances rows": {"instances": ROWS},
    "instances columnar": {"instances": EXPECTED},
    "inputs records": {"inputs": RECORDS},
    "inputs rows": {"inputs": ROWS},
    "inputs columnar": {"inputs": EXPECTED},
    "with params": {"dataframe_split": {"columns": COLS, "data": ROWS},
                    "params": {"threshold": 0.7, "k": [1, 2]}},
    "inputs with params": {"inputs": RECORDS, "params": {"threshold": 0.7}},
}


@pytest.mark.parametrize("doc", list(BODIES.values()), ids=list(BODIES))
def test_every_json_format_gives_the_same_table(doc: dict[str, Any]) -> None:
    table = decode(doc)
    assert table.to_pydict() == EXPECTED
    assert table.schema == pa.schema([("age", pa.int64()), ("sex", pa.string()),
                                      ("hours", pa.float64())])


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "TEXT/CSV"])
def test_csv_with_header_row(content_type: str) -> None:
    table = decode(to_csv(COLS, ROWS), content_type)
    assert table.to_pydict() == EXPECTED
    assert table.schema.field("age").type == pa.int64()


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON", "", "*/*"])
def test_json_content_types(content_type: str) -> None:
    assert decode(BODIES["dataframe_records"], content_type).to_pydict() == EXPECTED


def test_rows_follow_signature_order_not_alphabetical() -> None:
    order = ["sex", "hours", "age"]
    rows = [["Male", 40.5, 39]]
    table = decode({"instances": rows}, columns=order)
    assert table.column_names == order
    assert table.to_pylist() == [{"sex": "Male", "hours": 40.5, "age": 39}]


def test_records_with_missing_keys_fill_nulls_and_keep_first_seen_order() -> None:
    table = decode({"dataframe_records": [{"sex": "M", "age": 1}, {"hours": 2.5}]})
    assert table.column_names == ["sex", "age", "hours"]
    assert table.to_pydict() == {"sex": ["M", None], "age": [1, None], "hours": [None, 2.5]}


def test_columnar_scalar_is_one_row() -> None:
    assert decode({"inputs": {"age": 39, "sex": "Male"}}).to_pylist() == [
        {"age": 39, "sex": "Male"}]


def test_ints_and_floats_in_one_column_are_floats() -> None:
    table = decode({"dataframe_records": [{"hours": 40}, {"hours": 12.5}]})
    assert table.schema.field("hours").type == pa.float64()
    assert table.column("hours").to_pylist() == [40.0, 12.5]


def test_json_bodies_decode_to_plain_columns_and_csv_to_a_table() -> None:
    data = decode_scoring(json.dumps(BODIES["dataframe_split"]).encode(), "application/json",
                          COLS)
    assert data == EXPECTED  # plain lists: converted to Arrow once per batch
    assert isinstance(decode_scoring(to_csv(COLS, ROWS), "text/csv", COLS), pa.Table)


def test_a_batch_of_requests_merges_to_their_concatenation() -> None:
    docs = [BODIES["dataframe_split"], BODIES["inputs records"], BODIES["instances rows"],
            {"dataframe_records": [{"age": 1, "sex": None, "hours": 2}]}]
    datas = [decode_scoring(json.dumps(d).encode(), "application/json", COLS) for d in docs]
    assert all(isinstance(d, dict) for d in datas)
    items = [Pending(d, len(d["age"]), f"r{i}") for i, d in enumerate(datas)]  # type: ignore
    merged = merge(items)
    alone = [to_table(d) for d in datas]  # type: ignore[arg-type]
    assert merged.to_pylist() == [row for t in alone for row in t.to_pylist()]
    assert merged.schema.field("hours").type == pa.float64()


def test_adult_rows_match_mlflow_parser(adult_sample: Any, mlflow_scoring: ModuleType) -> None:
    frame = adult_sample.head(100)  # type: ignore[attr-defined]
    columns = list(frame.columns)
    rows = [list(r) for r in frame.iter_rows()]
    records = frame.to_dicts()
    want = frame.to_dict(as_series=False)
    docs = {"dataframe_split": {"dataframe_split": {"columns": columns, "data": rows}},
            "dataframe_records": {"dataframe_records": records},
            "instances": {"instances": records}, "inputs": {"inputs": want}}
    for key, doc in docs.items():
        ours = decode(doc, columns=columns).to_pydict()
        assert ours == want, key
        theirs = mlflow_scoring.infer_and_parse_data(doc)
        if isinstance(theirs, dict):  # instances / inputs: a dict of numpy arrays
            theirs = {k: v.tolist() for k, v in theirs.items()}
        else:
            theirs = theirs.to_dict(orient="list")
        assert ours == theirs, key
    csv_body = to_csv(columns, rows)
    assert decode(csv_body, "text/csv", columns).to_pydict() == want
    theirs = mlflow_scoring.parse_csv_input(io.StringIO(csv_body.decode()))
    assert decode(csv_body, "text/csv", columns).to_pydict() == theirs.to_dict(orient="list")


# --- error paths -----------------------------------------------------------------------------

ERRORS: list[tuple[str, Any, type[Exception], str]] = [
    ("two format keys", {"dataframe_split": {"columns": COLS, "data": ROWS},
                         "instances": ROWS}, UsageError,
     "exactly one of dataframe_split, dataframe_records, instances, inputs "
     r"\(got dataframe_split and instances\)"),
    ("instances and inputs", {"instances": ROWS, "inputs": ROWS}, UsageError,
     r"\(got instances and inputs\)"),
    ("no format key", {"params": {"a": 1}}, UsageError,
     "the body needs exactly one of dataframe_split, dataframe_records, instances, inputs$"),
    ("empty object", {}, UsageError, "needs exactly one of"),
    ("unknown key", {"instances": ROWS, "columns": COLS}, UsageError,
     r"\(unknown key columns\)"),
    ("unknown keys", {"data": ROWS, "rows": 1}, UsageError, r"\(unknown keys data, rows\)"),
    ("not an object", [RECORDS], UsageError, "must be a JSON object with one of"),
    ("not JSON", b"{'instances': []}", UsageError, "not valid JSON"),
    ("empty body", b"", UsageError, "empty"),
    ("split not an object", {"dataframe_split": ROWS}, UsageError,
     "dataframe_split needs 'columns'"),
    ("split without columns", {"dataframe_split": {"data": ROWS}}, UsageError,
     "dataframe_split needs 'columns'"),
    ("split data not a list", {"dataframe_split": {"columns": COLS, "data": {"a": 1}}},
     UsageError, "and 'data'"),
    ("split column names not strings", {"dataframe_split": {"columns": [1, 2], "data": []}},
     UsageError, "dataframe_split.columns must be strings"),
    ("split column twice", {"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}},
     UsageError, "dataframe_split.columns has a name twice"),
    ("split row too short", {"dataframe_split": {"columns": COLS, "data": [ROWS[0], [1, "M"]]}},
     InvalidInput, r"dataframe_split.data\[1\] must be a list of 3 values"),
    ("split row not a list", {"dataframe_split": {"columns": COLS, "data": [RECORDS[0]]}},
     InvalidInput, r"dataframe_split.data\[0\] must be a list"),
    ("records not a list", {"dataframe_records": RECORDS[0]}, UsageError,
     "dataframe_records must be a list of objects"),
    ("records with a row list", {"dataframe_records": [RECORDS[0], ROWS[1]]}, UsageError,
     "dataframe_records must be a list of objects"),
    ("records empty", {"dataframe_records": []}, InvalidInput, "dataframe_records: no columns"),
    ("instances a scalar", {"instances": 5}, UsageError,
     "instances must be a list of rows or a mapping of columns"),
    ("instances row too long", {"instances": [ROWS[0] + [1]]}, InvalidInput,
     r"instances\[0\] must be a list of 3 values \(age, sex, hours\)"),
    ("inputs row not a list", {"inputs": [ROWS[0], 7]}, InvalidInput,
     r"inputs\[1\] must be a list of 3 values"),
    ("columnar lengths differ", {"inputs": {"age": [1, 2], "sex": ["M"]}}, InvalidInput,
     r"inputs: columns have different lengths \[1, 2\]"),
    ("columnar empty", {"instances": {}}, InvalidInput, "instances: no columns"),
    ("mixed str and int", {"dataframe_records": [{"age": 1}, {"age": "x"}]}, InvalidInput,
     "input column 'age' mixes values of different types"),
    ("mixed bool and int", {"dataframe_split": {"columns": ["age"], "data": [[1], [True]]}},
     InvalidInput, "input column 'age' mixes values"),
    ("mixed in columnar", {"inputs": {"sex": ["M", 2]}}, InvalidInput,
     "input column 'sex' mixes values"),
    ("nested list", {"instances": [[1, "M", [40.0]]]}, InvalidInput,
     "input column 'hours' holds lists or objects, expected scalars"),
    ("nested object", {"dataframe_records": [{"age": {"years": 3}}]}, InvalidInput,
     "input column 'age' holds lists or objects"),
    ("nested in columnar", {"inputs": {"age": [[1], [2]]}}, InvalidInput,
     "input column 'age' holds lists or objects"),
]


@pytest.mark.parametrize(("doc", "exc", "match"), [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_errors(doc: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        decode(doc)


def test_rows_without_names_need_a_signature() -> None:
    with pytest.raises(InvalidInput, match="instances: rows without names need a model "
                                           "signature"):
        decode({"instances": ROWS}, columns=[])


def test_named_rows_need_no_signature() -> None:
    assert decode({"instances": RECORDS}, columns=[]).to_pydict() == EXPECTED


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain",
                                          "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_named(content_type: str) -> None:
    with pytest.raises(UsageError, match=f"unsupported Content-Type '{content_type}': send "
                                         "application/json or text/csv"):
        decode(BODIES["dataframe_records"], content_type)


@pytest.mark.parametrize(("raw", "match"), [(b"", "Empty CSV"), (b"a,b\n1,2,3\n", "Expected 2")])
def test_bad_csv(raw: bytes, match: str) -> None:
    with pytest.raises(InvalidInput, match=f"the CSV body cannot be read: .*{match}"):
        decode(raw, "text/csv")


def test_formats_constant() -> None:
    assert FORMATS == ("dataframe_split", "dataframe_records", "instances", "inputs")


# --- the answer ------------------------------------------------------------------------------

def answer(table: pa.Table) -> Any:
    return json.loads(encode_scoring(table))


def test_one_column_answers_a_plain_list() -> None:
    assert answer(pa.table({"label": ["<=50K", ">50K"]})) == {"predictions": ["<=50K", ">50K"]}


def test_several_columns_answer_records() -> None:
    table = pa.table({"label": ["<=50K", ">50K"], "p": [0.1, 0.9]})
    assert answer(table) == {"predictions": [{"label": "<=50K", "p": 0.1},
                                             {"label": ">50K", "p": 0.9}]}


def test_nan_and_null_answer_json_null() -> None:
    raw = encode_scoring(pa.table({"p": [0.5, float("nan"), None]}))
    assert b"NaN" not in raw
    assert json.loads(raw) == {"predictions": [0.5, None, None]}
    raw = encode_scoring(pa.table({"p": [float("nan")], "label": pa.array([None], pa.string())}))
    assert json.loads(raw) == {"predictions": [{"p": None, "label": None}]}


def test_empty_answer() -> None:
    assert answer(pa.table({"p": pa.array([], pa.float64())})) == {"predictions": []}


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    return value


def test_answer_matches_mlflow_scoring_server(mlflow_scoring: ModuleType) -> None:
    """A one-column output answers as MLflow answers a model returning an array; several
    columns as MLflow answers a DataFrame (except NaN, which we spell null: valid JSON)."""
    import numpy as np
    import pandas as pd

    single = pa.table({"p": [0.25, float("nan"), 1.0]})
    out = io.StringIO()
    mlflow_scoring.predictions_to_json(np.array([0.25, np.nan, 1.0]), out)
    assert answer(single) == _nan_to_none(json.loads(out.getvalue()))
    several = pa.table({"p": [0.25, float("nan")], "label": ["a", "b"], "n": [1, 2]})
    out = io.StringIO()
    mlflow_scoring.predictions_to_json(pd.DataFrame(several.to_pydict()), out)
    assert answer(several) == _nan_to_none(json.loads(out.getvalue()))


def test_decoded_then_encoded_round_trip() -> None:
    table = decode(BODIES["dataframe_split"])
    assert answer(table) == {"predictions": RECORDS}
