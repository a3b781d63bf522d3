"""Request-body and error schemas for the OpenAPI document (``/openapi.json``).

The handlers read raw bytes (for speed and for the binary tensor extension), so FastAPI cannot
derive the bodies; they are described here, close to the protocols' own specifications.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BODIES", "ERRORS"]

_SCALAR: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string"},
                                     {"type": "boolean"}, {"type": "null"}]}
_TENSOR: dict[str, Any] = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": [
            "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
            "FP16", "FP32", "FP64", "BYTES"]},
        "parameters": {"type": "object"},
        "data": {"type": "array", "items": {}},
    },
}
_INFER: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}}}},
    },
}
_RECORDS: dict[str, Any] = {"type": "array",
                            "items": {"type": "object", "additionalProperties": _SCALAR}}
_INVOCATIONS: dict[str, Any] = {
    "type": "object",
    "description": "MLflow scoring protocol: exactly one of the four input keys.",
    "properties": {
        "dataframe_split": {"type": "object", "required": ["columns", "data"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"type": "array", "items": _SCALAR}},
            "index": {"type": "array"}}},
        "dataframe_records": _RECORDS,
        "instances": {"anyOf": [_RECORDS, {"type": "array", "items": {"type": "array"}},
                                {"type": "object"}]},
        "inputs": {"anyOf": [{"type": "object"}, {"type": "array"}]},
        "params": {"type": "object"},
    },
}
_FEEDBACK: dict[str, Any] = {
    "anyOf": [
        {"type": "object", "required": ["request_id", "label"],
         "properties": {"request_id": {"type": "string"}, "label": _SCALAR}},
        {"type": "object", "required": ["items"], "properties": {"items": {
            "type": "array", "items": {"type": "object", "required": ["request_id", "label"],
                                       "properties": {"request_id": {"type": "string"},
                                                      "label": _SCALAR}}}}},
    ]
}


def _body(schema: dict[str, Any], *, csv: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "content": content}}


BODIES: dict[str, dict[str, Any]] = {
    "infer": _body(_INFER),
    "invocations": _body(_INVOCATIONS, csv=True),
    "feedback": _body(_FEEDBACK),
}

_ERROR = {"content": {"application/json": {"schema": {
    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, **_ERROR} for code, text in (
        (400, "malformed request"), (401, "missing or wrong bearer token"),
        (404, "unknown model or version"), (413, "body too large"),
        (422, "input does not fit the model's signature"),
        (503, "model failed, no fallback answered"), (504, "model timed out"))
}
