"""Hostile bodies for the decoders (issue "Hardening…"): each is a 4xx naming the fault, fast
and in bounded memory, never an exception that would become a 500."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.errors import InvalidInput, UsageError
from airlock.serve._oip import MAX_DIMS, decode_infer
from airlock.serve._scoring import decode_scoring

COLS = ["age", "sex", "hours"]


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def oip(*inputs: dict[str, Any]) -> bytes:
    return json.dumps({"inputs": list(inputs)}).encode()


@pytest.mark.parametrize("datatype", ["FP64", "INT64", "BYTES", "BOOL"])
def test_deeply_nested_oip_data_is_a_400(datatype: str) -> None:
    leaf = "a" if datatype == "BYTES" else True if datatype == "BOOL" else 1
    body = oip({"name": "age", "shape": [1], "datatype": datatype,
                "data": nested(900, leaf)})
    with pytest.raises(UsageError, match=f"nested more than {MAX_DIMS} deep"):
        decode_infer(body, None, COLS)


def test_nested_oip_data_within_the_cap_still_decodes() -> None:
    body = oip({"name": "age", "shape": [1, 1], "datatype": "INT64", "data": nested(MAX_DIMS, 7)})
    data, _ = decode_infer(body, None, ["age"])
    assert data["age"].tolist() == [7]


def test_a_huge_shape_is_a_400_before_its_product_is_formatted() -> None:
    body = oip({"name": "age", "shape": [2**62] * 300, "datatype": "INT64", "data": [1]})
    with pytest.raises(UsageError, match="300 dimensions"):
        decode_infer(body, None, COLS)
    body = oip({"name": "age", "shape": [2**62] * MAX_DIMS, "datatype": "INT64", "data": [1]})
    with pytest.raises(InvalidInput, match=r"more than 10\*\*18 values, got 1"):
        decode_infer(body, None, COLS)


@given(depth=st.integers(0, 1000), width=st.integers(0, 3),
       datatype=st.sampled_from(["FP64", "INT64", "BYTES", "BOOL"]))
@settings(max_examples=60, deadline=None)
def test_any_nesting_decodes_or_is_a_4xx(depth: int, width: int, datatype: str) -> None:
    item = "[" * depth + "1" + "]" * depth  # json.dumps itself recurses
    data = "[" + ",".join([item] * width) + "]"
    body = (f'{{"inputs": [{{"name": "age", "shape": [{width}], "datatype": "{datatype}", '
            f'"data": {data}}}]}}').encode()
    try:  # every refusal is an airlock error (a 4xx); anything else would be a 500
        data, _ = decode_infer(body, None, ["age"])
    except UsageError as exc:
        assert exc.http_status in (400, 422) and exc.message
    else:
        assert len(data["age"]) == width


def test_csv_with_a_duplicate_header_is_a_400() -> None:
    body = b"age,sex,age\n39,Male,40\n"
    with pytest.raises(UsageError, match="'age' twice"):
        decode_scoring(body, "text/csv", COLS)


def test_csv_wider_than_the_signature_is_refused_from_its_header() -> None:
    header = ",".join(f"c{i}" for i in range(30_000)).encode()
    body = header + b"\n" + b",".join([b"1"] * 30_000) + b"\n"
    started = time.process_time()  # CPU: load does not stretch it
    with pytest.raises(InvalidInput, match="30000 columns; at most 67 for a model of 3 inputs"):
        decode_scoring(body, "text/csv", COLS)
    assert time.process_time() - started < 0.2
    quoted = b'"a\nb",sex,hours\n1,Male,2\n'  # a quoted name over two lines is still one name
    assert decode_scoring(quoted, "text/csv", COLS).column_names == ["a\nb", "sex", "hours"]


@pytest.mark.parametrize("key", ["dataframe_records", "instances", "inputs", "dataframe_split"])
def test_nested_values_in_scoring_bodies_are_refused_before_arrow(key: str) -> None:
    deep = "DEEP"  # replaced by 1,000 levels of text: json.dumps itself recurses
    doc: dict[str, Any] = {
        "dataframe_records": {"dataframe_records": [{"age": deep, "sex": "M", "hours": 1}]},
        "instances": {"instances": [{"age": deep, "sex": "M", "hours": 1}]},
        "inputs": {"inputs": {"age": [deep], "sex": ["M"], "hours": [1]}},
        "dataframe_split": {"dataframe_split": {"columns": COLS, "data": [[deep, "M", 1]]}},
    }[key]
    raw = json.dumps(doc).replace('"DEEP"', "[" * 1000 + "1" + "]" * 1000).encode()
    started = time.process_time()  # CPU: load does not stretch it
    with pytest.raises(InvalidInput, match="'age' holds lists or objects"):
        decode_scoring(raw, "application/json", COLS)
    assert time.process_time() - started < 0.2
    objects = {"dataframe_records": [{"age": {"a": 1}, "sex": "M", "hours": 1}]}
    with pytest.raises(InvalidInput, match="'age' holds lists or objects"):
        decode_scoring(json.dumps(objects).encode(), "application/json", COLS)


SIG = [{"name": "age", "type": "int64"}, {"name": "hours", "type": "double"},
       {"name": "sex", "type": "string"}, {"name": "member", "type": "bool"}]


@pytest.mark.parametrize(("column", "value", "match"), [
    ("hours", "40", r"'hours' must be double values \(integer or number or null\), got "
                    r"string \('40'\)"),
    ("age", True, r"'age' must be int64 values \(integer or null\), got boolean"),
    ("hours", True, "'hours' must be double values"),
    ("age", 39.0, r"'age' must be int64 values \(integer or null\), got number"),
    ("age", "39", "got string"),
    ("member", 1, r"'member' must be bool values \(boolean or null\), got integer"),
    ("age", 2**63, "'age': 9223372036854775808 is out of range for int64"),
    ("age", -(2**63) - 1, "got number"),  # orjson reads integers past 64 bits as floats
])
def test_invocations_are_as_strict_as_oip(column: str, value: Any, match: str) -> None:
    from airlock.serve._scoring import check_kinds

    row = {"age": 39, "hours": 40.5, "sex": "M", "member": False, column: value}
    data = decode_scoring(json.dumps({"dataframe_records": [row]}).encode(),
                          "application/json", [s["name"] for s in SIG])
    with pytest.raises(InvalidInput, match=match):
        check_kinds(data, SIG)


def test_invocations_kinds_that_fit_pass() -> None:
    from airlock.serve._scoring import check_kinds

    rows = [{"age": 39, "hours": 40, "sex": "M", "member": True},
            {"age": None, "hours": None, "sex": None, "member": None},
            {"age": 2**63 - 1, "hours": 1e300, "sex": "F", "member": False}]
    data = decode_scoring(json.dumps({"dataframe_records": rows}).encode(),
                          "application/json", [s["name"] for s in SIG])
    check_kinds(data, SIG)
    assert data["age"] == [39, None, 2**63 - 1]
