"""MLflow's scoring protocol (``POST /invocations``) ⇄ Arrow tables.

Bodies MLflow's scoring server accepts, and so do we: JSON with exactly one of
``dataframe_split`` (``{"columns": [...], "data": [[...]]}``), ``dataframe_records``
(``[{col: v}]``), ``instances`` or ``inputs`` (records, rows in signature order, or a mapping of
column lists), optionally with ``params``; or CSV with a header row (``text/csv``). The answer
is ``{"predictions": [...]}`` exactly as MLflow's server gives it for the same model (see
:func:`encode_scoring`); header ``X-Airlock-Outputs: table`` asks for every output column.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from airlock.errors import InvalidInput, UsageError

from ._json import dumps, loads
from ._payload import Columns

__all__ = ["FORMATS", "TABLE_HEADER", "check_kinds", "decode_scoring", "encode_scoring"]

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode_scoring(body: bytes, content_type: str, columns: list[str]) -> Columns | pa.Table:
    """The rows of an ``/invocations`` body: plain columns (JSON) or a table (CSV)."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "text/csv":
        return _csv(body, columns)
    if ctype not in ("application/json", "", "*/*"):
        raise UsageError(f"unsupported Content-Type {ctype!r}: send application/json or "
                         "text/csv", ) from None
    doc = loads(body, "request")
    if not isinstance(doc, dict):
        raise UsageError(f"the body must be a JSON object with one of {', '.join(FORMATS)}")
    unknown = sorted(set(doc) - {*FORMATS, "params"})
    given = [k for k in FORMATS if k in doc]
    if unknown or len(given) != 1:
        extra = f" (unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)})" \
            if unknown else f" (got {' and '.join(given)})" if given else ""
        raise UsageError(f"the body needs exactly one of {', '.join(FORMATS)}{extra}")
    key = given[0]
    value = doc[key]
    if key == "dataframe_split":
        return _split(value)
    if key == "dataframe_records":
        return _records(value, key)
    return _instances(value, key, columns)


MAX_CSV_COLUMNS = 1024  # without a signature


def csv_column_cap(width: int) -> int:
    """The widest CSV body accepted for a model of ``width`` inputs: extra columns are
    dropped as MLflow drops them, but not tens of thousands of them."""
    return max(2 * width, width + 64) if width else MAX_CSV_COLUMNS


def _csv(body: bytes, columns: list[str]) -> pa.Table:
    """A CSV body with a header row. Its width is checked on the header alone, before Arrow
    parses anything: a 260 KB header of 30k columns took seconds."""
    import pyarrow.csv as pcsv

    header = _csv_header(body)
    twice = sorted(n for n, k in Counter(header).items() if k > 1)
    if twice:
        raise UsageError(f"the CSV header has the column {twice[0]!r} twice")
    cap = csv_column_cap(len(columns))
    if len(header) > cap:
        raise InvalidInput(f"the CSV body has {len(header)} columns; at most {cap} for a model "
                           f"of {len(columns)} inputs" if columns else
                           f"the CSV body has {len(header)} columns; at most {cap}")
    try:
        return pcsv.read_csv(pa.py_buffer(body))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"the CSV body cannot be read: {str(exc).splitlines()[0]}") from None


def _csv_header(body: bytes) -> list[str]:
    """The header row's names (the csv module's reading of the first record)."""
    import csv
    import io

    end = body.find(b"\n")
    first = body if end < 0 else body[:end + 1]
    if first.count(b'"') % 2:  # a quoted name spans lines: read on until the record ends
        first = body
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV header is not UTF-8") from None
    try:
        return next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise InvalidInput(f"the CSV header cannot be read: {exc}") from None


def _split(value: Any) -> Columns:
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list) \
            or not isinstance(value.get("data"), list):
        raise UsageError("dataframe_split needs 'columns' (a list of names) and 'data' "
                         "(a list of rows)")
    names = value["columns"]
    if not all(isinstance(n, str) for n in names):
        raise UsageError("dataframe_split.columns must be strings")
    if len(set(names)) != len(names):
        raise UsageError("dataframe_split.columns has a name twice")
    rows = value["data"]
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(f"dataframe_split.data[{i}] must be a list of {width} values")
    return _columns({n: [r[j] for r in rows] for j, n in enumerate(names)}, "dataframe_split")


def _records(value: Any, key: str) -> Columns:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise UsageError(f"{key} must be a list of objects (one per row)")
    names: dict[str, None] = {}
    for r in value:
        names.update(dict.fromkeys(r))
    return _columns({n: [r.get(n) for r in value] for n in names}, key)


def _instances(value: Any, key: str, columns: list[str]) -> Columns:
    if isinstance(value, dict):  # columnar: {col: [values]}
        lists = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            raise InvalidInput(f"{key}: columns have different lengths {sorted(lengths)}")
        return _columns(lists, key)
    if not isinstance(value, list):
        raise UsageError(f"{key} must be a list of rows or a mapping of columns")
    if all(isinstance(r, dict) for r in value):
        return _records(value, key)
    if not columns:
        raise InvalidInput(f"{key}: rows without names need a model signature")
    width = len(columns)
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(f"{key}[{i}] must be a list of {width} values "
                               f"({', '.join(columns)})")
    return _columns({c: [r[j] for r in value] for j, c in enumerate(columns)}, key)


_NESTED = frozenset({list, dict})


def _columns(data: dict[str, list[Any]], key: str) -> Columns:
    """Plain columns; converting them to Arrow happens once per batch (see ``_payload``).
    A list or object where a scalar goes is refused here, by type alone: Arrow would build
    nested arrays for it first (a 2 KB body 1,000 levels deep cost seconds and 250 MB)."""
    if not data:
        raise InvalidInput(f"{key}: no columns")
    for name, values in data.items():
        if not _NESTED.isdisjoint(map(type, values)):
            raise InvalidInput(f"input column {name!r} holds lists or objects, expected "
                               f"scalars ({key})")
    return data


TABLE_HEADER = "X-Airlock-Outputs"  # "table": every output column, as records


def encode_scoring(outputs: pa.Table, *, table: bool = False) -> bytes:
    """``{"predictions": …}`` as MLflow's scoring server answers for the same model: a
    classifier's labels (what its ``predict`` returns, not the ``proba_*`` columns), the
    values of a one-column output, records for a model that returns a frame. ``table``:
    records of every output column (the ``X-Airlock-Outputs: table`` header)."""
    names = outputs.column_names
    if not table and "prediction" in names and all(
            n == "prediction" or n.startswith("proba_") for n in names):
        return dumps({"predictions": outputs.column("prediction").to_pylist()})
    if not table and outputs.num_columns == 1:
        return dumps({"predictions": outputs.column(0).to_pylist()})
    return dumps({"predictions": outputs.to_pylist()})


_KIND = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
_INT64 = (-(2**63), 2**63 - 1)


def check_kinds(data: Columns | pa.Table, inputs: list[dict[str, Any]]) -> None:
    """JSON values of each signature column's kind only, as the OIP path and MLflow's schema
    enforcement demand: Arrow's cast would turn ``"40"`` into 40.0 and ``true`` into 1
    without a word. Numbers take integers (and null: NaN); integers take integers in range;
    booleans take booleans. CSV bodies are text by nature and are left to the cast."""
    if isinstance(data, pa.Table):
        return
    for spec in inputs:
        values = data.get(spec["name"])
        want = str(spec.get("type"))
        if values is None or spec.get("type") is None:
            continue
        try:
            t = pa.type_for_alias(want)
        except ValueError:
            continue
        if pa.types.is_floating(t):
            allowed: tuple[type, ...] = (int, float, type(None))
        elif pa.types.is_integer(t):
            allowed = (int, type(None))
        elif pa.types.is_boolean(t):
            allowed = (bool, type(None))
        else:
            continue
        bad = set(map(type, values)).difference(allowed)
        if bad:
            got = sorted(_KIND.get(k, k.__name__) for k in bad)
            example = next(v for v in values if type(v) in bad)
            raise InvalidInput(f"input column {spec['name']!r} must be {want} values "
                               f"({' or '.join(_KIND[k] for k in allowed)}), got "
                               f"{', '.join(got)} ({example!r:.40})")
        if t == pa.int64():
            out = next((v for v in values if type(v) is int
                        and not _INT64[0] <= v <= _INT64[1]), None)
            if out is not None:
                raise InvalidInput(f"input column {spec['name']!r}: {out} is out of range for "
                                   "int64")

