"""Open Inference Protocol v2 ⇄ Arrow: per-column and 2-D tensors, the binary tensor extension
both ways (cross-checked against tritonclient's own encoder and decoder), every error path, and
Hypothesis round trips of random tables through JSON and binary tensors."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.errors import InvalidInput, UsageError
from airlock.serve._oip import DATATYPES, arrow_datatype, decode_infer, encode_infer
from airlock.serve._payload import Pending, merge, to_table

ROOT = Path(__file__).resolve().parents[2]
ADULT = ROOT / "examples" / "data" / "adult.data.gz"
COLS = ["age", "sex", "hours"]
NUMPY = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
         "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
         "UINT64": np.uint64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


# --- helpers: bodies built the way KServe / Triton clients build them ------------------------

def tensor(name: str, datatype: str, shape: list[Any], data: Any) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def infer(payload: bytes, header_length: int | None,
          columns: list[str]) -> tuple[pa.Table, dict[str, Any]]:
    """decode_infer, then the Arrow conversion the server does per request (to_table)."""
    data, request = decode_infer(payload, header_length, columns)
    return to_table(data), request


def decode(*inputs: dict[str, Any], columns: list[str] | None = None) -> pa.Table:
    table, _ = infer(body(*inputs), None, COLS if columns is None else columns)
    return table


def raw_bytes(values: np.ndarray, datatype: str) -> bytes:
    """Triton's wire format: little-endian values; BYTES as 4-byte LE length + utf-8."""
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(b)) + b
                        for b in (str(v).encode("utf-8") for v in values.reshape(-1)))
    return np.ascontiguousarray(values, dtype=np.dtype(NUMPY[datatype]).newbyteorder("<")
                                ).tobytes()


def binary_body(inputs: list[tuple[str, str, np.ndarray]],
                outputs: list[dict[str, Any]] | None = None) -> tuple[bytes, int]:
    """JSON header (each input with parameters.binary_data_size) then the raw tensor bytes,
    exactly as tritonclient.http's generate_request_body lays them out."""
    specs, blobs = [], []
    for name, datatype, values in inputs:
        blob = raw_bytes(values, datatype)
        specs.append({"name": name, "shape": list(values.shape), "datatype": datatype,
                      "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    doc: dict[str, Any] = {"inputs": specs}
    if outputs is not None:
        doc["outputs"] = outputs
    head = json.dumps(doc, separators=(",", ":")).encode()
    return head + b"".join(blobs), len(head)


def tritonclient_http() -> Any:
    return pytest.importorskip("tritonclient.http")


def bad(exc: type[Exception], match: str, payload: bytes, header_length: int | None = None,
        columns: list[str] | None = None) -> str:
    with pytest.raises(exc, match=match) as info:
        infer(payload, header_length, COLS if columns is None else columns)
    return str(info.value)


# --- per-column tensors ------------------------------------------------------------------

CASES = [
    ("BYTES", ["<=50K", "é ü", ""], pa.string()),
    ("INT64", [39, -50, 2**62], pa.int64()),
    ("FP64", [0.1, -2.5e300, 1e-300], pa.float64()),
    ("FP32", [0.5, -1.25, 3.0], pa.float32()),
    ("BOOL", [True, False, True], pa.bool_()),
    ("FP16", [1.5, -2.0, 0.25], pa.float32()),  # Arrow columns hold FP16 as float32
]


@pytest.mark.parametrize(("datatype", "values", "arrow_type"), CASES,
                         ids=[c[0] for c in CASES])
@pytest.mark.parametrize("layout", ["[n]", "[n,1] nested", "[n,1] flat"])
def test_column_tensor_each_datatype(datatype: str, values: list[Any], arrow_type: pa.DataType,
                                     layout: str) -> None:
    n = len(values)
    shape, data = {"[n]": ([n], values), "[n,1] nested": ([n, 1], [[v] for v in values]),
                   "[n,1] flat": ([n, 1], values)}[layout]
    table = decode(tensor("x", datatype, shape, data), tensor("k", "INT32", [n], [1, 2, 3]),
                   columns=["x", "k"])
    assert table.column_names == ["x", "k"]
    assert table.schema.field("x").type == arrow_type
    assert table.column("x").to_pylist() == values
    assert table.column("k").to_pylist() == [1, 2, 3]
    assert table.schema.field("k").type == pa.int32()


@pytest.mark.parametrize("datatype", [d for d in DATATYPES if d not in ("BYTES", "BOOL")])
def test_every_numeric_datatype_keeps_its_width(datatype: str) -> None:
    table = decode(tensor("age", datatype, [2], [1, 7]), columns=["age"])
    want = np.dtype(NUMPY[datatype])
    if datatype == "FP16":
        want = np.dtype(np.float32)
    assert table.schema.field("age").type == pa.from_numpy_dtype(want)
    assert table.column("age").to_pylist() == [1, 7]


def test_json_null_in_a_float_tensor_is_nan_and_bytes_null_stays_null() -> None:
    table = decode(tensor("hours", "FP64", [2], [None, 1.0]),
                   tensor("sex", "BYTES", [2], [None, "F"]))
    assert math.isnan(table.column("hours")[0].as_py())
    assert table.column("sex").to_pylist() == [None, "F"]


def test_columns_keep_request_order_and_request_is_returned() -> None:
    payload = body(tensor("sex", "BYTES", [2], ["M", "F"]), tensor("age", "INT64", [2], [1, 2]),
                   id="req-7", parameters={"p": 1})
    table, request = infer(payload, None, COLS)
    assert table.column_names == ["sex", "age"]
    assert request["id"] == "req-7" and request["parameters"] == {"p": 1}


def test_adult_rows_as_column_tensors(adult_sample: Any) -> None:
    frame = adult_sample.head(200).to_arrow()  # type: ignore[attr-defined]
    inputs = [tensor(name, arrow_datatype(frame.schema.field(name).type), [frame.num_rows],
                     frame.column(name).to_pylist()) for name in frame.column_names]
    table = decode(*inputs, columns=frame.column_names)
    assert table.to_pydict() == frame.to_pydict()
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("workclass").type == pa.string()


def test_decoded_columns_are_numpy_arrays_of_the_datatype() -> None:
    data, _ = decode_infer(body(tensor("age", "INT32", [2, 1], [[1], [2]]),
                                tensor("sex", "BYTES", [2], ["M", "F"]),
                                tensor("hours", "FP16", [2], [1.5, 2.0])), None, COLS)
    assert list(data) == ["age", "sex", "hours"]
    assert data["age"].dtype == np.int32 and data["age"].tolist() == [1, 2]
    assert data["sex"].dtype == object and data["sex"].tolist() == ["M", "F"]
    assert data["hours"].dtype == np.float16 and all(a.ndim == 1 for a in data.values())


def test_a_batch_of_requests_merges_to_their_concatenation() -> None:
    """Batched conversion (merge) gives exactly the rows of converting each request alone."""
    payloads = [body(tensor("age", "INT64", [n], list(range(n))),
                     tensor("sex", "BYTES", [n, 1], [[f"s{j}"] for j in range(n)]),
                     tensor("hours", "FP64", [n], [j / 3 for j in range(n)])) for n in (1, 3, 2)]
    datas = [decode_infer(p, None, COLS)[0] for p in payloads]
    merged = merge([Pending(d, len(d["age"]), f"r{i}") for i, d in enumerate(datas)])
    assert merged.equals(pa.concat_tables([to_table(d) for d in datas]))
    head, tail = binary_body([("age", "INT64", np.array([7, 8], dtype=np.int64)),
                              ("sex", "BYTES", np.array(["a", "b"], dtype=object)),
                              ("hours", "FP64", np.array([0.5, 1.5]))])
    binary = decode_infer(head, tail, COLS)[0]
    mixed = merge([Pending(datas[0], 1, "a"), Pending(binary, 2, "b")])
    assert mixed.to_pydict() == {"age": [0, 7, 8], "sex": ["s0", "a", "b"],
                                 "hours": [0.0, 0.5, 1.5]}


# --- one 2-D tensor in signature column order --------------------------------------------

def test_2d_tensor_maps_to_signature_columns_in_order() -> None:
    grid = [[39.0, 1.0, 40.0], [50.0, 0.0, 13.0]]
    table = decode(tensor("input-0", "FP64", [2, 3], grid))
    assert table.column_names == COLS
    assert table.to_pydict() == {"age": [39.0, 50.0], "sex": [1.0, 0.0], "hours": [40.0, 13.0]}


def test_2d_tensor_accepts_flat_data_in_row_major_order() -> None:
    table = decode(tensor("x", "INT64", [2, 3], [1, 2, 3, 4, 5, 6]))
    assert table.to_pydict() == {"age": [1, 4], "sex": [2, 5], "hours": [3, 6]}


def test_2d_tensor_without_signature_gets_positional_names() -> None:
    table = decode(tensor("x", "FP32", [1, 2], [[0.5, 1.5]]), columns=[])
    assert table.column_names == ["f0", "f1"]
    assert table.schema.field("f0").type == pa.float32()


def test_a_single_n_by_1_tensor_named_after_a_column_is_that_column() -> None:
    table = decode(tensor("age", "INT64", [2, 1], [[1], [2]]))
    assert table.column_names == ["age"]
    assert table.column("age").to_pylist() == [1, 2]


def test_2d_tensor_with_wrong_width_names_input_and_columns() -> None:
    msg = bad(InvalidInput, "input 'x'", body(tensor("x", "FP64", [1, 2], [[1.0, 2.0]])))
    assert "needs 3 columns (age, sex, hours), got 2" in msg


# --- the binary tensor extension, in -----------------------------------------------------

BIN_INPUTS: list[tuple[str, str, np.ndarray]] = [
    ("age", "INT64", np.array([39, 50, -1], dtype=np.int64)),
    ("sex", "BYTES", np.array(["Male", "Fémale", ""], dtype=object)),
    ("hours", "FP32", np.array([[40.5], [13.0], [0.0]], dtype=np.float32)),
    ("ok", "BOOL", np.array([True, False, True])),
    ("h", "FP16", np.array([1.5, 2.0, -0.5], dtype=np.float16)),
    ("w", "FP64", np.array([0.1, 1e300, -0.0])),
]
BIN_COLUMNS = [name for name, _, _ in BIN_INPUTS]


def assert_bin_table(table: pa.Table) -> None:
    assert table.column_names == BIN_COLUMNS
    assert table.column("age").to_pylist() == [39, 50, -1]
    assert table.column("sex").to_pylist() == ["Male", "Fémale", ""]
    assert table.column("hours").to_pylist() == [40.5, 13.0, 0.0]
    assert table.column("ok").to_pylist() == [True, False, True]
    assert table.column("h").to_pylist() == [1.5, 2.0, -0.5]
    assert table.column("w").to_pylist() == [0.1, 1e300, -0.0]
    assert table.schema.field("hours").type == pa.float32()


def test_binary_request_built_by_hand() -> None:
    payload, head_len = binary_body(BIN_INPUTS)
    table, request = infer(payload, head_len, BIN_COLUMNS)
    assert_bin_table(table)
    assert request["inputs"][1]["parameters"]["binary_data_size"] == 4 + 4 + 4 + 7 + 4


def test_binary_and_json_inputs_mix_in_one_request() -> None:
    head = {"inputs": [
        {"name": "a", "shape": [2], "datatype": "INT32", "parameters": {"binary_data_size": 8}},
        tensor("b", "BYTES", [2], ["x", "y"]),
        {"name": "c", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": 10}},
    ]}
    raw = struct.pack("<ii", 7, -8) + struct.pack("<I", 1) + b"p" + struct.pack("<I", 1) + b"q"
    head_bytes = json.dumps(head).encode()
    table, _ = infer(head_bytes + raw, len(head_bytes), [])
    assert table.to_pydict() == {"a": [7, -8], "b": ["x", "y"], "c": ["p", "q"]}


def test_binary_request_matches_tritonclient_byte_for_byte() -> None:
    http = tritonclient_http()
    utils = pytest.importorskip("tritonclient.utils")
    inputs = []
    for name, datatype, values in BIN_INPUTS:
        assert utils.np_to_triton_dtype(values.dtype) == datatype
        infer_input = http.InferInput(name, list(values.shape), datatype)
        infer_input.set_data_from_numpy(values, binary_data=True)
        inputs.append(infer_input)
    sex = BIN_INPUTS[1][2]
    assert utils.serialize_byte_tensor(sex).item() == raw_bytes(sex, "BYTES")
    if not hasattr(http.InferenceServerClient, "generate_request_body"):
        pytest.skip("this tritonclient has no InferenceServerClient.generate_request_body")
    outputs = [http.InferRequestedOutput("label", binary_data=True)]
    payload, head_len = http.InferenceServerClient.generate_request_body(inputs, outputs=outputs)
    mine, my_head_len = binary_body(BIN_INPUTS)
    assert payload[head_len:] == mine[my_head_len:]  # the raw tensor bytes are identical
    table, request = infer(payload, head_len, BIN_COLUMNS)
    assert_bin_table(table)
    assert request["outputs"] == [{"name": "label", "parameters": {"binary_data": True}}]


def test_tritonclient_json_request_decodes() -> None:
    http = tritonclient_http()
    inputs = []
    for name, datatype, values in BIN_INPUTS:
        infer_input = http.InferInput(name, list(values.shape), datatype)
        infer_input.set_data_from_numpy(values, binary_data=False)
        inputs.append(infer_input)
    payload, head_len = http.InferenceServerClient.generate_request_body(inputs)
    assert head_len is None
    table, _ = infer(payload, None, BIN_COLUMNS)
    assert_bin_table(table)


# --- the binary tensor extension, out ----------------------------------------------------

OUTPUTS = pa.table({
    "label": pa.array(["<=50K", ">50K", "é"]),
    "p": pa.array([0.25, 0.75, float("nan")]),
    "n": pa.array([1, -2, 3], type=pa.int32()),
    "flag": pa.array([True, False, True]),
    "half": pa.array(np.array([0.5, 1.5, -2.0], dtype=np.float16)),
})


def encode(request: dict[str, Any], outputs: pa.Table = OUTPUTS) -> tuple[bytes, int | None]:
    return encode_infer(outputs, model_name="adult", model_version="5", request_id="r-1",
                        request=request)


def test_json_response_carries_model_version_id_and_typed_outputs() -> None:
    payload, head_len = encode({})
    assert head_len is None
    doc = json.loads(payload)
    assert (doc["model_name"], doc["model_version"], doc["id"]) == ("adult", "5", "r-1")
    by_name = {o["name"]: o for o in doc["outputs"]}
    assert [o["name"] for o in doc["outputs"]] == OUTPUTS.column_names
    assert {n: o["datatype"] for n, o in by_name.items()} == {
        "label": "BYTES", "p": "FP64", "n": "INT32", "flag": "BOOL", "half": "FP16"}
    assert all(o["shape"] == [3] for o in doc["outputs"])
    assert by_name["p"]["data"] == [0.25, 0.75, None]  # NaN has no JSON spelling
    assert by_name["label"]["data"] == ["<=50K", ">50K", "é"]


def test_binary_data_output_decodes_with_tritonclient() -> None:
    http = tritonclient_http()
    payload, head_len = encode({"parameters": {"binary_data_output": True}})
    assert head_len is not None
    header = json.loads(payload[:head_len])
    assert all("data" not in o and o["parameters"]["binary_data_size"] > 0
               for o in header["outputs"])
    result = http.InferResult.from_response_body(payload, header_length=head_len)
    assert list(result.as_numpy("label")) == [b"<=50K", b">50K", "é".encode()]
    p = result.as_numpy("p")
    assert p.dtype == np.float64 and list(p[:2]) == [0.25, 0.75] and math.isnan(p[2])
    n = result.as_numpy("n")
    assert n.dtype == np.int32 and list(n) == [1, -2, 3]
    assert list(result.as_numpy("flag")) == [True, False, True]
    half = result.as_numpy("half")
    assert half.dtype == np.float16 and list(half) == [0.5, 1.5, -2.0]


def test_per_output_binary_flag_and_selection_order() -> None:
    http = tritonclient_http()
    request = {"outputs": [{"name": "p", "parameters": {"binary_data": True}},
                           {"name": "label"}]}
    payload, head_len = encode(request)
    assert head_len is not None
    header = json.loads(payload[:head_len])
    assert [o["name"] for o in header["outputs"]] == ["p", "label"]
    assert header["outputs"][0]["parameters"] == {"binary_data_size": 24}
    assert header["outputs"][1]["data"] == ["<=50K", ">50K", "é"]
    assert len(payload) == head_len + 24
    result = http.InferResult.from_response_body(payload, header_length=head_len)
    assert list(result.as_numpy("p")[:2]) == [0.25, 0.75]
    assert result.as_numpy("n") is None  # not requested, not returned


def test_per_output_binary_false_overrides_binary_data_output() -> None:
    request = {"parameters": {"binary_data_output": True},
               "outputs": [{"name": "n", "parameters": {"binary_data": False}}]}
    payload, head_len = encode(request)
    assert head_len is None
    assert json.loads(payload)["outputs"] == [
        {"name": "n", "datatype": "INT32", "shape": [3], "data": [1, -2, 3]}]


def test_binary_out_bytes_layout_is_length_prefixed_utf8() -> None:
    payload, head_len = encode({"outputs": [{"name": "label",
                                             "parameters": {"binary_data": True}}]})
    assert head_len is not None
    assert payload[head_len:] == (struct.pack("<I", 5) + b"<=50K" + struct.pack("<I", 4)
                                  + b">50K" + struct.pack("<I", 2) + "é".encode())


@pytest.mark.parametrize(("outputs", "named"), [
    ([{"name": "score"}], "'score'"), ([{"name": ["p"]}], r"\['p'\]"), ([{}], "None"),
    (["p"], "None"), ([{"name": "p"}, {"name": 3}], "3")])
def test_unknown_requested_output_is_named(outputs: list[Any], named: str) -> None:
    with pytest.raises(InvalidInput, match=f"unknown output {named}; the model returns label, "
                                           "p, n, flag, half"):
        encode({"outputs": outputs})


@pytest.mark.parametrize(("arrow_type", "name"), [
    (pa.bool_(), "BOOL"), (pa.int8(), "INT8"), (pa.uint64(), "UINT64"), (pa.int64(), "INT64"),
    (pa.float16(), "FP16"), (pa.float32(), "FP32"), (pa.float64(), "FP64"),
    (pa.string(), "BYTES"), (pa.large_string(), "BYTES"), (pa.timestamp("s"), "BYTES")])
def test_arrow_datatype(arrow_type: pa.DataType, name: str) -> None:
    assert arrow_datatype(arrow_type) == name


# --- error paths: each a UsageError / InvalidInput naming the input -----------------------

def age(datatype: str = "INT64", shape: Any = None, data: Any = None,
        **extra: Any) -> dict[str, Any]:
    spec = tensor("age", datatype, [2] if shape is None else shape,
                  [1, 2] if data is None else data)
    spec.update(extra)
    return spec


REQUEST_ERRORS = [
    ("not JSON", b"{nope", UsageError, "not valid JSON"),
    ("empty", b"", UsageError, "empty"),
    ("not an object", b"[1, 2]", UsageError, "must be a JSON object with 'inputs'"),
    ("no inputs", b"{}", UsageError, "needs 'inputs'"),
    ("empty inputs", b'{"inputs": []}', UsageError, "needs 'inputs'"),
    ("inputs not a list", b'{"inputs": {"age": 1}}', UsageError, "needs 'inputs'"),
    ("input not an object", b'{"inputs": [1]}', UsageError, r"inputs\[0\] must be an object"),
    ("no name", body({"shape": [1], "datatype": "INT64", "data": [1]}), UsageError,
     r"inputs\[0\]: 'name'"),
]


@pytest.mark.parametrize(("payload", "exc", "match"), [c[1:] for c in REQUEST_ERRORS],
                         ids=[c[0] for c in REQUEST_ERRORS])
def test_request_errors(payload: bytes, exc: type[Exception], match: str) -> None:
    bad(exc, match, payload)


INPUT_ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("negative shape", age(shape=[-2]), UsageError, "'shape' must be a list of non-negative"),
    ("bool shape", age(shape=[True]), UsageError, "'shape' must be a list"),
    ("float shape", age(shape=[2.0]), UsageError, "'shape' must be a list"),
    ("shape not list", age(shape=2), UsageError, "'shape' must be a list"),
    ("empty shape", age(shape=[]), UsageError, "'shape' must be a list"),
    ("unknown datatype", age(datatype="INT128"), UsageError, "unknown datatype 'INT128'"),
    ("datatype a list", age(datatype=["INT64"]), UsageError, r"unknown datatype \['INT64'\]"),
    ("no datatype", {"name": "age", "shape": [1], "data": [1]}, UsageError,
     "unknown datatype None"),
    ("no data", {"name": "age", "shape": [1], "datatype": "INT64"}, UsageError, "needs 'data'"),
    ("count mismatch", age(shape=[3]), InvalidInput, r"shape \[3\] needs 3 values, got 2"),
    ("count mismatch 2-D", age(shape=[2, 2], data=[[1, 2], [3, 4], [5, 6]]), InvalidInput,
     "needs 4 values, got 6"),
    ("ragged nesting", age(shape=[2, 2], data=[[1, 2], [3]]), InvalidInput, "ragged"),
    ("list after scalar", age(data=[1, [2]]), InvalidInput, "ragged"),
    ("strings in INT64", age(data=["1", "2"]), InvalidInput,
     "INT64 data must be integer values, got string"),
    ("a string last in INT64", age(data=[1, "2"]), InvalidInput, "got string"),
    ("words in INT64", age(data=["a", "b"]), InvalidInput, "got string"),
    ("booleans in INT64", age(data=[True, False]), InvalidInput, "got boolean"),
    ("a boolean last in INT64", age(data=[1, True]), InvalidInput, "got boolean"),
    ("fractions in INT64", age(data=[1.5, 2]), InvalidInput, "got number"),
    ("null in INT64", age(data=[None, 2]), InvalidInput, "got null"),
    ("strings in FP64", age(datatype="FP64", data=["1.5", "2"]), InvalidInput, "got string"),
    ("booleans in FP32", age(datatype="FP32", data=[1.0, True]), InvalidInput, "got boolean"),
    ("'false' in BOOL", age(datatype="BOOL", data=["false", "true"]), InvalidInput,
     "BOOL data must be boolean values, got string"),
    ("numbers in BOOL", age(datatype="BOOL", data=[0, 2]), InvalidInput, "got integer"),
    ("null in BOOL", age(datatype="BOOL", data=[None, True]), InvalidInput, "got null"),
    ("objects in INT64", age(data=[{"v": 1}, 2]), InvalidInput, "got object"),
    ("numbers in BYTES", age(datatype="BYTES", data=["a", 2]), InvalidInput,
     "BYTES data must be strings"),
    ("negative in UINT8", age(datatype="UINT8", data=[-1, 2]), InvalidInput,
     "does not fit datatype UINT8"),
    ("overflow in INT8", age(datatype="INT8", data=[300, 2]), InvalidInput,
     "does not fit datatype INT8"),
    ("overflow in FP16", age(datatype="FP16", data=[1e300, 2]), InvalidInput,
     "does not fit datatype FP16"),
    ("overflow in FP32", age(datatype="FP32", data=[1e300, 2]), InvalidInput,
     "does not fit datatype FP32"),
]


@pytest.mark.parametrize(("spec", "exc", "match"), [c[1:] for c in INPUT_ERRORS],
                         ids=[c[0] for c in INPUT_ERRORS])
def test_input_errors_name_the_input(spec: dict[str, Any], exc: type[Exception],
                                     match: str) -> None:
    other = tensor("sex", "BYTES", [2], ["M", "F"])
    msg = bad(exc, match, body(other, spec))
    assert msg.startswith("input 'age': ")


def test_an_unnamed_input_is_named_by_position() -> None:
    msg = bad(UsageError, "'name'", body(tensor("sex", "BYTES", [1], ["M"]),
                                         {"name": "", "shape": [1], "datatype": "BYTES"}))
    assert msg.startswith("inputs[1]: ")


def test_duplicate_names() -> None:
    bad(UsageError, "two inputs have the same name 'age'",
        body(tensor("age", "INT64", [1], [1]), tensor("sex", "BYTES", [1], ["M"]),
             tensor("age", "INT64", [1], [2])))


def test_different_row_counts_name_each_input() -> None:
    msg = bad(InvalidInput, "different row counts",
              body(tensor("age", "INT64", [2], [1, 2]), tensor("sex", "BYTES", [1], ["M"])))
    assert "'age' has 2" in msg and "'sex' has 1" in msg


@pytest.mark.parametrize("shape", [[2, 2], [1, 2, 2]])
def test_column_tensor_must_be_one_wide(shape: list[int]) -> None:
    data = list(range(math.prod(shape)))
    msg = bad(InvalidInput, "a column tensor has shape",
              body(tensor("sex", "BYTES", [shape[0]], ["M"] * shape[0]),
                   tensor("age", "INT64", shape, data)))
    assert msg.startswith("input 'age'")


def binary_age(size: Any, raw: bytes) -> tuple[bytes, int]:
    head = json.dumps({"inputs": [{"name": "age", "shape": [3], "datatype": "INT64",
                                   "parameters": {"binary_data_size": size}}]}).encode()
    return head + raw, len(head)


def binary_sex(raw: bytes, shape: int = 1) -> tuple[bytes, int]:
    head = json.dumps({"inputs": [{"name": "sex", "shape": [shape], "datatype": "BYTES",
                                   "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return head + raw, len(head)


THREE = struct.pack("<3q", 1, 2, 3)
BINARY_ERRORS: list[tuple[str, tuple[bytes, int | None], type[Exception], str]] = [
    ("size past the body", binary_age(25, THREE), UsageError,
     "input 'age': binary_data_size 25 does not fit the binary body"),
    ("size without header length", (binary_age(24, b"")[0], None), UsageError,
     "input 'age': binary_data_size 24 does not fit"),
    ("negative size", binary_age(-1, THREE), UsageError, "input 'age': binary_data_size -1"),
    ("size a bool", binary_age(True, THREE), UsageError, "input 'age': binary_data_size True"),
    ("size a string", binary_age("24", THREE), UsageError, "input 'age': binary_data_size '24'"),
    ("not whole values", binary_age(20, THREE[:20]), InvalidInput,
     "input 'age': 20 bytes is not a whole number of INT64 values"),
    ("too few values", binary_age(16, THREE[:16]), InvalidInput,
     r"input 'age': shape \[3\] needs 3 values, got 2"),
    ("truncated BYTES length", binary_sex(struct.pack("<I", 1) + b"a" + b"\x01\x00", 2),
     InvalidInput, "input 'sex': truncated BYTES element length"),
    ("BYTES element past the end", binary_sex(struct.pack("<I", 9) + b"abc"), InvalidInput,
     "input 'sex': a BYTES element runs past the binary data"),
    ("header longer than body", (THREE, 100), UsageError,
     "Inference-Header-Content-Length 100 does not fit the 24-byte body"),
    ("header length zero", (THREE, 0), UsageError, "Inference-Header-Content-Length 0"),
    ("header cut mid-JSON", (binary_age(24, THREE)[0], 20), UsageError, "not valid JSON"),
]


@pytest.mark.parametrize(("request_", "exc", "match"), [c[1:] for c in BINARY_ERRORS],
                         ids=[c[0] for c in BINARY_ERRORS])
def test_binary_errors(request_: tuple[bytes, int | None], exc: type[Exception],
                       match: str) -> None:
    payload, head_len = request_
    bad(exc, match, payload, head_len)


def test_second_binary_input_overflowing_the_rest_is_named() -> None:
    inputs = [("age", "INT64", np.array([1, 2], dtype=np.int64)),
              ("sex", "BYTES", np.array(["M", "F"], dtype=object))]
    payload, head_len = binary_body(inputs)
    bad(UsageError, "input 'sex': binary_data_size 10 does not fit", payload[:-1], head_len)


# --- Hypothesis: random tables round-trip through JSON and binary tensors ----------------

INT64 = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
KINDS = {"int": (INT64, pa.int64()), "float": (FLOATS, pa.float64()),
         "str": (st.text(max_size=12), pa.string()), "bool": (st.booleans(), pa.bool_())}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=5))
    columns = {}
    for j, kind in enumerate(kinds):
        values, arrow_type = KINDS[kind]
        columns[f"c{j}_{kind}"] = pa.array(draw(st.lists(values, min_size=n, max_size=n)),
                                           type=arrow_type)
    return pa.table(columns)


def json_tensors(table: pa.Table) -> bytes:
    return body(*(tensor(name, arrow_datatype(table.schema.field(name).type), [table.num_rows],
                         table.column(name).to_pylist()) for name in table.column_names))


def binary_tensors(table: pa.Table) -> tuple[bytes, int]:
    inputs = []
    for name in table.column_names:
        datatype = arrow_datatype(table.schema.field(name).type)
        values = table.column(name).to_numpy(zero_copy_only=False)
        inputs.append((name, datatype, values.astype(object if datatype == "BYTES" else
                                                     NUMPY[datatype])))
    return binary_body(inputs)


@settings(max_examples=80, deadline=None)
@given(table=tables())
def test_random_tables_round_trip_through_json_tensors(table: pa.Table) -> None:
    decoded, _ = infer(json_tensors(table), None, table.column_names)
    assert decoded.equals(table)


@settings(max_examples=80, deadline=None)
@given(table=tables())
def test_random_tables_round_trip_through_binary_tensors(table: pa.Table) -> None:
    payload, head_len = binary_tensors(table)
    decoded, _ = infer(payload, head_len, table.column_names)
    assert decoded.equals(table)


@settings(max_examples=60, deadline=None)
@given(table=tables(), binary=st.booleans())
def test_random_tables_survive_encode_then_decode(table: pa.Table, binary: bool) -> None:
    """What encode_infer answers, fed back as a request (outputs → inputs), is the table."""
    payload, head_len = encode_infer(table, model_name="m", model_version="1", request_id="r",
                                     request={"parameters": {"binary_data_output": binary}})
    assert (head_len is not None) == binary
    head = json.loads(payload if head_len is None else payload[:head_len])
    again = json.dumps({"inputs": head["outputs"]}).encode()
    raw = b"" if head_len is None else payload[head_len:]
    decoded, _ = infer(again + raw, len(again) if binary else None, table.column_names)
    assert decoded.equals(table)
