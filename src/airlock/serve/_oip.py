"""Open Inference Protocol v2 (KServe / Triton) tensors ⇄ Arrow tables.

A tabular model takes either one named tensor per column (shape ``[n]`` or ``[n, 1]``, as
MLServer's pandas codec sends) or a single 2-D tensor ``[n, k]`` in signature column order.
The binary tensor extension is supported both ways: a request whose
``Inference-Header-Content-Length`` header is set carries its JSON first and the raw tensor
bytes after it (``parameters.binary_data_size`` per input), and outputs are returned raw when
the request asks for it (``parameters.binary_data_output`` or per output ``binary_data``).
"""

from __future__ import annotations

import struct
from math import prod
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput, UsageError

from ._json import dumps, loads
from ._payload import Columns

__all__ = ["DATATYPES", "MAX_DIMS", "arrow_datatype", "decode_infer", "encode_infer"]

MAX_DIMS = 32  # deepest tensor (shape length, JSON nesting of data) a request may send

DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": object,
}


def arrow_datatype(t: pa.DataType) -> str:
    """The OIP datatype that carries an Arrow column."""
    if pa.types.is_boolean(t):
        return "BOOL"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        name: str = np.dtype(t.to_pandas_dtype()).name
        return name.upper().replace("FLOAT", "FP")
    return "BYTES"


def decode_infer(body: bytes, header_length: int | None,
                 columns: list[str]) -> tuple[Columns, dict[str, Any]]:
    """The request's tensors as columns named like the model's inputs, and the request's
    JSON (converted to Arrow once per batch, see ``_payload``)."""
    head = body if header_length is None else body[:header_length]
    if header_length is not None and not 0 < header_length <= len(body):
        raise UsageError(f"Inference-Header-Content-Length {header_length} does not fit the "
                         f"{len(body)}-byte body")
    request = loads(head, "request")
    if not isinstance(request, dict):
        raise UsageError("request must be a JSON object with 'inputs'")
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise UsageError("request needs 'inputs': a non-empty list of tensors")
    raw = memoryview(body)[header_length:] if header_length is not None else None
    tensors: list[tuple[str, np.ndarray, list[int]]] = []
    offset = 0
    for i, spec in enumerate(inputs):
        name, arr, shape, used = _tensor(spec, i, raw, offset)
        offset += used
        tensors.append((name, arr, shape))
    return _to_table(tensors, columns), request


def _tensor(spec: Any, i: int, raw: memoryview | None,
            offset: int) -> tuple[str, np.ndarray, list[int], int]:
    if not isinstance(spec, dict):
        raise UsageError(f"inputs[{i}] must be an object with name, shape, datatype, data")
    name = spec.get("name")
    where = f"input {name!r}" if isinstance(name, str) and name else f"inputs[{i}]"
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: 'name' must be a non-empty string")
    shape = spec.get("shape")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise UsageError(f"{where}: 'shape' must be a list of non-negative integers")
    if len(shape) > MAX_DIMS:
        raise UsageError(f"{where}: 'shape' has {len(shape)} dimensions; at most {MAX_DIMS}")
    datatype = spec.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise UsageError(f"{where}: unknown datatype {datatype!r}; use one of "
                         f"{', '.join(DATATYPES)}")
    count = prod(shape)
    params = spec.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if (raw is None or not isinstance(size, int) or isinstance(size, bool) or size < 0
                or offset + size > len(raw)):
            raise UsageError(f"{where}: binary_data_size {size!r} does not fit the binary body")
        arr = _from_binary(bytes(raw[offset:offset + size]), datatype, where)
        used = size
    else:
        if "data" not in spec:
            raise UsageError(f"{where}: needs 'data' (or parameters.binary_data_size)")
        arr = _from_json(spec["data"], datatype, where)
        used = 0
    if arr.size != count:
        # the product of a hostile shape can be too long to print (Python's int-to-str limit)
        need = f"{count} values" if count <= 10**18 else "more than 10**18 values"
        raise InvalidInput(f"{where}: shape {shape} needs {need}, got {arr.size}")
    return name, arr, shape, used


def _from_json(data: Any, datatype: str, where: str) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        flat = _flatten(data, where)
        if any(not isinstance(v, str | bytes) and v is not None for v in flat):
            raise InvalidInput(f"{where}: BYTES data must be strings")
        out = np.empty(len(flat), dtype=object)
        out[:] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat]
        return out
    _check_kinds(_flatten(data, where), datatype, where)
    try:
        with np.errstate(over="raise"):
            arr = np.asarray(data, dtype=DATATYPES[datatype])
    except (TypeError, ValueError, OverflowError, FloatingPointError):
        raise InvalidInput(f"{where}: data does not fit datatype {datatype} "
                           "(a value out of range, or ragged nesting)") from None
    return arr.reshape(-1)


_JSON_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string",
               type(None): "null", list: "array (ragged nesting)", dict: "object"}


def _check_kinds(flat: list[Any], datatype: str, where: str) -> None:
    """JSON values of the datatype's kind only: numpy would turn "1" into 1, "false" into
    True, 1.5 into 1 and True into 1 without a word."""
    if datatype == "BOOL":
        allowed: tuple[type, ...] = (bool,)
    elif datatype.startswith(("INT", "UINT")):
        allowed = (int,)
    else:  # FP*: null stands for NaN, which JSON cannot spell
        allowed = (int, float, type(None))
    bad = set(map(type, flat)).difference(allowed)
    if bad:
        got = ", ".join(sorted(_JSON_NAMES.get(t, t.__name__) for t in bad))
        need = " or ".join(_JSON_NAMES[t] for t in allowed)
        raise InvalidInput(f"{where}: {datatype} data must be {need} values, got {got}")


def _flatten(data: list[Any], where: str) -> list[Any]:
    """Every scalar of nested lists, depth first, without recursion: nesting deeper than
    MAX_DIMS is a 400 (a recursive walk hit RecursionError on ~1,000 levels)."""
    if not data or not isinstance(data[0], list):
        return data  # flat already (a list further on is caught as ragged nesting)
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                if len(stack) >= MAX_DIMS:
                    raise UsageError(f"{where}: 'data' is nested more than {MAX_DIMS} deep")
                stack.append(iter(v))
                break
            out.append(v)
        else:
            stack.pop()
    return out


def _from_binary(buf: bytes, datatype: str, where: str) -> np.ndarray:
    if datatype != "BYTES":
        dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
        if len(buf) % dtype.itemsize:
            raise InvalidInput(f"{where}: {len(buf)} bytes is not a whole number of "
                               f"{datatype} values")
        return np.frombuffer(buf, dtype=dtype)
    items: list[str] = []
    pos = 0
    while pos < len(buf):
        if pos + 4 > len(buf):
            raise InvalidInput(f"{where}: truncated BYTES element length")
        (n,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        if pos + n > len(buf):
            raise InvalidInput(f"{where}: a BYTES element runs past the binary data")
        items.append(buf[pos:pos + n].decode("utf-8", "replace"))
        pos += n
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _to_table(tensors: list[tuple[str, np.ndarray, list[int]]], columns: list[str]) -> Columns:
    names = [t[0] for t in tensors]
    if len(tensors) == 1 and len(tensors[0][2]) == 2 and tensors[0][0] not in columns:
        name, arr, shape = tensors[0]
        n, k = shape
        if columns and k != len(columns):
            raise InvalidInput(f"input {name!r}: a 2-D tensor needs {len(columns)} columns "
                               f"({', '.join(columns)}), got {k}")
        grid = arr.reshape(n, k)
        cols = columns or [f"f{j}" for j in range(k)]
        return {c: np.ascontiguousarray(grid[:, j]) for j, c in enumerate(cols)}
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"two inputs have the same name {twice[0]!r}")
    rows = {t[2][0] for t in tensors}
    for name, _, shape in tensors:
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(f"input {name!r}: a column tensor has shape [n] or [n, 1], "
                               f"got {shape}")
    if len(rows) != 1:
        counts = ", ".join(f"{name!r} has {shape[0]}" for name, _, shape in tensors)
        raise InvalidInput(f"inputs have different row counts: {counts}")
    return {name: arr for name, arr, _ in tensors}


def encode_infer(outputs: pa.Table, *, model_name: str, model_version: str, request_id: str,
                 request: dict[str, Any]) -> tuple[bytes, int | None]:
    """The response body and, when outputs go binary, its JSON header's length."""
    wanted = request.get("outputs")
    params = request.get("parameters") if isinstance(request.get("parameters"), dict) else {}
    binary_all = bool(params.get("binary_data_output")) if params else False
    names = list(outputs.column_names)
    binary: dict[str, bool] = {n: binary_all for n in names}
    if isinstance(wanted, list) and wanted:
        picked = []
        for want in wanted:
            name = want.get("name") if isinstance(want, dict) else None
            if not isinstance(name, str) or name not in binary:
                raise InvalidInput(f"unknown output {name!r}; the model returns "
                                   f"{', '.join(names)}")
            p = want.get("parameters") or {}
            binary[name] = bool(p.get("binary_data", binary_all)) if isinstance(p, dict) \
                else binary_all
            picked.append(name)
        names = picked
    out_specs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in names:
        col = outputs.column(name)
        spec: dict[str, Any] = {"name": name, "datatype": arrow_datatype(col.type),
                                "shape": [len(col)]}
        if binary[name]:
            blob = _to_binary(col, spec["datatype"])
            spec["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            spec["data"] = col.to_pylist()
        out_specs.append(spec)
    head = dumps({"model_name": model_name, "model_version": model_version,
                  "id": request_id, "outputs": out_specs})
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)


def _to_binary(col: pa.ChunkedArray, datatype: str) -> bytes:
    if datatype != "BYTES":
        arr = col.to_numpy(zero_copy_only=False).astype(np.dtype(DATATYPES[datatype])
                                                        .newbyteorder("<"))
        return bytes(arr.tobytes())
    parts = []
    for v in col.to_pylist():
        b = ("" if v is None else str(v)).encode("utf-8")
        parts.append(struct.pack("<I", len(b)) + b)
    return b"".join(parts)
