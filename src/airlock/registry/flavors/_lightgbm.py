"""LightGBM models (scikit-learn wrappers or a Booster), saved as LightGBM's text format.

LightGBM's text reader trusts the file: a cut-short file, a ``tree_sizes`` that does not
match the trees, or a ``num_leaves`` larger than its arrays aborts or segfaults the process
(measured with lightgbm 4.6: ``terminate called`` and SIGSEGV), and child or feature indexes
out of range are followed at prediction. So the text is checked first, in one pass over its
lines: the header, every tree's arrays against its ``num_leaves``, every index against the
tree and the features, the declared tree sizes against the trees, the closing lines. What
passes is handed to LightGBM, whose own errors become one UsageError naming the file.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ._base import Outputs, loading, model_file_fault, require

#: LightGBM's own bound on num_leaves (its parameter check).
MAX_LEAVES = 131072
_NODE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_OPTIONAL_NODE = ("split_gain", "internal_value", "internal_weight", "internal_count")
_OPTIONAL_LEAF = ("leaf_weight", "leaf_count")
_PARAMETER = re.compile(rb"\[\w+: [^\n]*\]\Z")
# What LightGBM parses in a tree, and as what: a value it cannot parse is a fatal error in
# its parallel tree reader, which aborts the process (a "shrinkage=U.1" did). So each value
# must be numbers separated by spaces, in the forms LightGBM writes, before it sees them.
_INT = rb"[+-]?[0-9]{1,18}"  # fits int64: a range check can name it
_FLOAT = rb"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?|inf|nan)"
_KINDS = {
    **dict.fromkeys(("num_leaves", "num_cat", "is_linear", "split_feature", "decision_type",
                     "left_child", "right_child", "leaf_count", "internal_count",
                     "cat_boundaries", "cat_threshold", "num_features", "leaf_features"),
                    re.compile(rb" *(?:%s(?: +%s)*)? *" % (_INT, _INT))),
    **dict.fromkeys(("split_gain", "threshold", "leaf_value", "leaf_weight", "internal_value",
                     "internal_weight", "shrinkage", "leaf_const", "leaf_coeff"),
                    re.compile(rb" *(?:%s(?: +%s)*)? *" % (_FLOAT, _FLOAT))),
}


class _Fault(Exception):
    pass


def _fields(lines: list[bytes], where: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for line in lines:
        key, sep, value = line.partition(b"=")
        if sep:
            out[key.decode("utf-8", "replace").strip(" ")] = value.strip(b" ")
        elif line.strip():
            raise _Fault(f"{where}: a line without '=' ({line[:40]!r})")
    return out


def _int(fields: dict[str, bytes], key: str, where: str, lo: int, hi: int) -> int:
    if key not in fields:
        raise _Fault(f"{where}: {key} is missing")
    if not re.fullmatch(_INT, fields[key]):
        raise _Fault(f"{where}: {key} is not a number")
    value = int(fields[key])
    if not lo <= value <= hi:
        raise _Fault(f"{where}: {key}={value} is outside {lo}..{hi}")
    return value


def _array(fields: dict[str, bytes], key: str, n: int, where: str, *,
           required: bool = True, dtype: Any = None) -> Any:
    """Check that ``key`` holds ``n`` values (its form was checked already); convert them
    to ``dtype`` only when asked (most arrays need only their count: converting them all
    would cost several times what LightGBM's own load does)."""
    raw = fields.get(key)
    if raw is None:
        if required:
            raise _Fault(f"{where}: {key} is missing")
        return None
    tokens = raw.split()  # only spaces are left in it: as LightGBM splits it
    if len(tokens) != n and (required or tokens):
        raise _Fault(f"{where}: {key} has {len(tokens)} values, num_leaves needs {n}")
    if dtype is None:
        return None
    return np.array(tokens, dtype=np.bytes_).astype(dtype) if tokens else np.zeros(0, dtype)


def _check_tree(fields: dict[str, bytes], where: str, features: int) -> None:
    for key, form in _KINDS.items():
        if key in fields and not form.fullmatch(fields[key]):
            raise _Fault(f"{where}: {key} holds a value that is not a number")
    n = _int(fields, "num_leaves", where, 1, MAX_LEAVES)
    cats = _int(fields, "num_cat", where, 0, max(n - 1, 0))
    _array(fields, "leaf_value", n, where)
    for key in _OPTIONAL_LEAF:
        _array(fields, key, n, where, required=False)
    if n > 1:
        for key in _NODE_ARRAYS:
            _array(fields, key, n - 1, where)
        for key in _OPTIONAL_NODE:
            _array(fields, key, n - 1, where, required=False)
        for key in ("left_child", "right_child"):  # a node, or ~leaf for a leaf
            kids = _array(fields, key, n - 1, where, dtype=np.int64)
            if kids.min() < -n or kids.max() > n - 2 or (kids == 0).any():
                raise _Fault(f"{where}: {key} points outside the tree's {n} leaves")
        split = _array(fields, "split_feature", n - 1, where, dtype=np.int64)
        if split.min() < 0 or split.max() >= features:
            raise _Fault(f"{where}: split_feature names a feature outside the {features}")
        kinds = _array(fields, "decision_type", n - 1, where, dtype=np.int64)
        if kinds.min() < 0 or kinds.max() > 127:
            raise _Fault(f"{where}: decision_type is outside 0..127")
        categorical = (kinds & 1) == 1
        if categorical.any():
            bounds = _array(fields, "cat_boundaries", cats + 1, where, dtype=np.int64)
            words = len(fields.get("cat_threshold", b"").split())
            if bounds[0] != 0 or (np.diff(bounds) < 0).any() or bounds[-1] != words:
                raise _Fault(f"{where}: cat_boundaries do not match cat_threshold")
            at = _array(fields, "threshold", n - 1, where, dtype=np.float64)[categorical]
            if (at < 0).any() or (at >= cats).any() or (at != np.floor(at)).any():
                raise _Fault(f"{where}: a categorical threshold is outside its {cats} sets")
    if "cat_threshold" in fields and fields["cat_threshold"].split() and \
            max(int(t) for t in fields["cat_threshold"].split()) >= 2**32:
        raise _Fault(f"{where}: cat_threshold holds a value over 32 bits")
    if fields.get("is_linear", b"0") not in (b"0", b""):
        _array(fields, "leaf_const", n, where)
        counts = _array(fields, "num_features", n, where, dtype=np.int64)
        if counts.min() < 0 or counts.max() > features:
            raise _Fault(f"{where}: num_features is outside 0..{features}")
        total = int(counts.sum())
        used = _array(fields, "leaf_features", total, where, dtype=np.int64)
        _array(fields, "leaf_coeff", total, where)
        if total and (used.min() < 0 or used.max() >= features):
            raise _Fault(f"{where}: leaf_features names a feature outside the {features}")


def check_model_text(data: bytes) -> None:
    """Raise _Fault unless ``data`` is a whole, consistent LightGBM text model."""
    if not data.strip():
        raise _Fault("the file is empty")
    if not data.startswith((b"tree\n", b"tree\r\n")):
        raise _Fault("not a LightGBM text model (its first line is not 'tree')")
    lines = data.split(b"\n")
    try:
        end = lines.index(b"end of trees")
    except ValueError:
        raise _Fault("the file is cut short (no 'end of trees' line)") from None
    if any(b"\r" in line for line in lines[:end]):  # LightGBM would break the line there
        raise _Fault("a carriage return in the header or the trees (LightGBM writes '\\n' "
                     "line ends only)")
    starts = [i for i in range(end) if lines[i].startswith(b"Tree=")]
    header = _fields(lines[1:starts[0] if starts else end], "the header")
    features = _int(header, "max_feature_idx", "the header", 0, 2**31 - 2) + 1
    _int(header, "num_class", "the header", 1, 2**31 - 1)
    per_iteration = _int(header, "num_tree_per_iteration", "the header", 1, 2**31 - 1)
    for key in ("feature_names", "feature_infos"):
        if key in header and len(header[key].split()) != features:
            raise _Fault(f"the header: {key} lists {len(header[key].split())} features, "
                         f"max_feature_idx says {features}")
    if len(starts) % per_iteration:
        raise _Fault(f"{len(starts)} trees is not a multiple of num_tree_per_iteration="
                     f"{per_iteration}")
    bounds = [*starts, end]
    sizes = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        _check_tree(_fields(lines[a + 1:b], f"tree {k}"), f"tree {k}", features)
        sizes.append(sum(len(line) + 1 for line in lines[a:b]))
    tail = lines[end + 1:]
    if b"parameters:" in tail:  # LightGBM reads on to the end, and splits each at ": "
        first = tail.index(b"parameters:") + 1
        if b"end of parameters" not in tail[first:]:
            raise _Fault("the file is cut short (no 'end of parameters' line)")
        for line in tail[first:tail.index(b"end of parameters", first)]:
            if line and not _PARAMETER.match(line):
                raise _Fault(f"the parameters: a line is not '[name: value]' ({line[:40]!r})")
    declared = header.get("tree_sizes")
    # LightGBM jumps by these offsets without checking them
    if declared is not None and declared.split() != [str(s).encode() for s in sizes]:
        raise _Fault("the header's tree_sizes do not match the trees in the file")


class _Predictor:
    def __init__(self, booster: Any, classes: list[Any] | None) -> None:
        self.booster, self.classes = booster, classes

    def predict(self, df: Any) -> Outputs:
        raw = np.asarray(self.booster.predict(df))
        if self.classes is None:
            return {"prediction": raw}
        proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
        labels = np.asarray(self.classes)
        out: Outputs = {"prediction": labels[np.argmax(proba, axis=1)]}
        for j, cls in enumerate(self.classes):
            out[f"proba_{cls}"] = proba[:, j]
        return out


class LightGBMFlavor:
    name = "lightgbm"

    def detect(self, model: Any) -> bool:
        return type(model).__module__.split(".")[0] == "lightgbm"

    def libraries(self) -> list[str]:
        return ["lightgbm", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        booster = getattr(model, "booster_", model)
        booster.save_model(str(path / "model.txt"))
        classes = getattr(model, "classes_", None)
        opts: dict[str, Any] = {"format": "text", "file": "model.txt",
                                "class": type(model).__name__}
        if classes is not None:
            opts["classes"] = json.loads(json.dumps(np.asarray(classes).tolist()))
        return opts

    def load(self, path: Path, options: dict[str, Any]) -> _Predictor:
        lgb = require("lightgbm", "lightgbm")
        file = path / options["file"]
        with loading(self.name, file):
            data = file.read_bytes()
            try:
                check_model_text(data)
            except _Fault as exc:
                raise model_file_fault(self.name, file, str(exc)) from None
            booster = lgb.Booster(model_str=data.decode("utf-8"))
        return _Predictor(booster, options.get("classes"))
