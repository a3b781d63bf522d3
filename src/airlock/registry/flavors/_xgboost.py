"""XGBoost models (scikit-learn wrappers or a Booster), saved in XGBoost's own UBJSON format.

XGBoost's readers trust what a file declares: a string or array length of 2**62 makes it try
to allocate that much, and a few thousand nested brackets overflow its stack (a segfault,
measured with xgboost 3.2). So the file is checked first, in one pass that allocates
nothing it declares: every declared length fits in the bytes that remain, nesting stays
shallow, nothing is cut short. What passes is handed to XGBoost, whose own errors become one
UsageError naming the file (:func:`loading`).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ._base import EstimatorPredictor, Outputs, loading, model_file_fault, require

#: The classes a manifest may name (``options["class"]``); anything else is refused.
CLASSES = frozenset({"Booster", "XGBClassifier", "XGBRegressor", "XGBRanker",
                     "XGBRFClassifier", "XGBRFRegressor"})
#: A saved XGBoost model nests about 8 deep; its parsers recurse once per level.
MAX_DEPTH = 64

# UBJSON (the draft XGBoost writes): fixed-size value markers and their sizes; integer
# markers usable as a length; strings are a length then bytes.
_FIXED = {ord("Z"): 0, ord("N"): 0, ord("T"): 0, ord("F"): 0, ord("i"): 1, ord("U"): 1,
          ord("I"): 2, ord("l"): 4, ord("L"): 8, ord("d"): 4, ord("D"): 8, ord("C"): 1}
_LENGTH = {ord("i"): ">b", ord("U"): ">B", ord("I"): ">h", ord("l"): ">i", ord("L"): ">q"}
_STRING = (ord("S"), ord("H"))
_OPEN = {ord("{"): ord("}"), ord("["): ord("]")}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


class _Fault(Exception):
    pass


_NUMPY = {ord("i"): ">i1", ord("U"): ">u1", ord("I"): ">i2", ord("l"): ">i4", ord("L"): ">i8",
          ord("d"): ">f4", ord("D"): ">f8"}


class _Ubjson:
    """Decode a UBJSON document without trusting it: every declared length must fit in the
    bytes that remain before anything is read, nesting is capped, and typed number arrays
    become numpy views (no per-element Python)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise _Fault(f"the file is cut short at byte {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def _take(self, n: int, what: str) -> bytes:
        left = len(self.data) - self.pos
        if n > left:
            raise _Fault(f"{what} declares {n} bytes at byte {self.pos} but only {left} "
                         "remain")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def _int(self, marker: int) -> int:
        fmt = _LENGTH[marker]
        (n,) = struct.unpack(fmt, self._take(struct.calcsize(fmt), "a number"))
        return int(n)

    def _length(self) -> int:
        marker = self._byte()
        if marker not in _LENGTH:
            raise _Fault(f"a length at byte {self.pos - 1} is not an integer")
        n = self._int(marker)
        if n < 0:
            raise _Fault(f"a negative length ({n}) before byte {self.pos}")
        return n

    def decode(self) -> Any:
        if self.data[:1] != b"{":
            raise _Fault("not an XGBoost model (it does not start with '{')")
        self.pos = 1
        root: dict[str, Any] = {}
        # each open container: [its value, closing marker, entries left (None: until the
        # closing marker), entry type (None: each entry has its own marker), pending key]
        stack: list[list[Any]] = [self._frame(root, ord("}"))]
        while stack:
            frame = stack[-1]
            value, close, left, typ = frame[:4]
            if left is None:
                if self.pos < len(self.data) and self.data[self.pos] == close:
                    self.pos += 1
                    stack.pop()
                    continue
            elif left == 0:
                stack.pop()
                continue
            else:
                frame[2] = left - 1
            key = None
            if close == ord("}"):
                key = self._take(self._length(), "a key").decode("utf-8", "replace")
            item = self._value(typ if typ is not None else self._byte(), stack)
            if key is None:
                value.append(item)
            else:
                value[key] = item
        return root

    def _value(self, marker: int, stack: list[list[Any]]) -> Any:
        if marker in _LENGTH:
            return self._int(marker)
        if marker in (ord("d"), ord("D")):
            fmt = ">f" if marker == ord("d") else ">d"
            return struct.unpack(fmt, self._take(struct.calcsize(fmt), "a number"))[0]
        if marker in (ord("T"), ord("F"), ord("Z"), ord("N")):
            return {ord("T"): True, ord("F"): False}.get(marker)
        if marker == ord("C"):
            return self._take(1, "a character").decode("latin-1")
        if marker in _STRING:
            return self._take(self._length(), "a string").decode("utf-8", "replace")
        if marker in _OPEN:
            if len(stack) >= MAX_DEPTH:
                raise _Fault(f"nested more than {MAX_DEPTH} deep at byte {self.pos - 1}")
            return self._open(marker, stack)
        raise _Fault(f"an unknown marker {bytes([marker])!r} at byte {self.pos - 1}")

    def _open(self, marker: int, stack: list[list[Any]]) -> Any:
        typ: int | None = None
        count: int | None = None
        if self.pos < len(self.data) and self.data[self.pos] == ord("$"):
            self.pos += 1
            typ = self._byte()
            if typ not in _FIXED and typ not in _STRING and typ not in _OPEN:
                raise _Fault(f"an unknown marker {bytes([typ])!r} at byte {self.pos - 1}")
            if self._byte() != ord("#"):
                raise _Fault(f"a typed container without a count at byte {self.pos - 1}")
            count = self._length()
        elif self.pos < len(self.data) and self.data[self.pos] == ord("#"):
            self.pos += 1
            count = self._length()
        if count is not None:
            size = max(_FIXED.get(typ, 1), 1) if typ is not None else 1
            left = len(self.data) - self.pos  # every entry takes at least a byte
            if count * size > left:
                raise _Fault(f"a container declares {count} entries at byte {self.pos} but "
                             f"only {left} bytes remain")
            if marker == ord("[") and typ in _NUMPY:  # a typed number array: one view
                raw = self._take(count * _FIXED[typ], "an array")
                return np.frombuffer(raw, dtype=np.dtype(_NUMPY[typ]))
        container: Any = {} if marker == ord("{") else []
        stack.append(self._frame(container, _OPEN[marker], count, typ))
        return container

    @staticmethod
    def _frame(value: Any, close: int, count: int | None = None,
               typ: int | None = None) -> list[Any]:
        return [value, close, count, typ]


def _check_json_depth(data: bytes) -> None:
    """Brackets (outside strings) balance and nest at most MAX_DEPTH deep, before a
    recursive parser sees them."""
    body = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    where = np.flatnonzero((body == ord("{")) | (body == ord("[")) | (body == ord("}"))
                           | (body == ord("]")))
    marks = body[where]
    depth = np.cumsum(np.where((marks == ord("{")) | (marks == ord("[")), 1, -1))
    if len(depth) and depth.max() > MAX_DEPTH:
        raise _Fault(f"nested more than {MAX_DEPTH} deep")
    if not len(depth) or depth.min() < 0 or depth[-1] != 0:
        raise _Fault("the file is cut short or its brackets do not match")


_ROOT_PARENT = (-1, 2**31 - 1)  # what XGBoost writes as the root's parent


def _ints(tree: dict[str, Any], key: str, n: int, i: int) -> Any:
    try:
        values = np.asarray(tree.get(key, []), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise _Fault(f"tree {i}: {key} holds values that are not integers") from None
    if values.ndim != 1 or len(values) != n:
        raise _Fault(f"tree {i}: {key} has {values.size} entries for {n} nodes")
    return values


def _check_tree(tree: Any, i: int, features: int) -> None:
    """The indexes XGBoost follows without checking: children, parents, split features."""
    if not isinstance(tree, dict) or not isinstance(tree.get("tree_param"), dict):
        raise _Fault(f"tree {i} has no tree_param")
    try:
        n = int(tree["tree_param"]["num_nodes"])
        nf = int(tree["tree_param"].get("num_feature", features))
    except (KeyError, TypeError, ValueError):
        raise _Fault(f"tree {i}: tree_param.num_nodes is missing or not a number") from None
    if not 1 <= n < 2**31 or not 0 <= nf < 2**31:
        raise _Fault(f"tree {i}: tree_param declares {n} nodes and {nf} features")
    for key in ("left_children", "right_children"):
        kids = _ints(tree, key, n, i)
        if len(kids) and (kids.min() < -1 or kids.max() >= n or (kids == 0).any()):
            raise _Fault(f"tree {i}: {key} points outside its {n} nodes")
    parents = _ints(tree, "parents", n, i)
    inside = (parents >= 0) & (parents < n)
    if not (inside | np.isin(parents, _ROOT_PARENT)).all():
        raise _Fault(f"tree {i}: parents points outside its {n} nodes")
    splits = _ints(tree, "split_indices", n, i)
    if len(splits) and (splits.min() < 0 or splits.max() >= max(nf, features, 1)):
        raise _Fault(f"tree {i}: split_indices names a feature outside its {nf}")
    for key in ("split_conditions", "default_left"):
        if len(np.asarray(tree.get(key, []))) != n:
            raise _Fault(f"tree {i}: {key} does not have {n} entries")
    nodes = _ints(tree, "categories_nodes", len(tree.get("categories_nodes", [])), i)
    if len(nodes) and (nodes.min() < 0 or nodes.max() >= n):
        raise _Fault(f"tree {i}: categories_nodes points outside its {n} nodes")
    segments = _ints(tree, "categories_segments", len(nodes), i)
    sizes = _ints(tree, "categories_sizes", len(nodes), i)
    total = len(tree.get("categories", []))
    if len(nodes) and (segments.min() < 0 or sizes.min() < 0
                       or (segments + sizes).max() > total):
        raise _Fault(f"tree {i}: its categories segments reach past its {total} categories")


def _check_model(model: Any) -> None:
    """Every tree of every tree booster in the document (gbtree, and dart's inner gbtree)."""
    learner = model.get("learner") if isinstance(model, dict) else None
    if not isinstance(learner, dict):
        raise _Fault("not an XGBoost model (no 'learner')")
    try:
        features = int(learner.get("learner_model_param", {}).get("num_feature", 0))
    except (TypeError, ValueError, AttributeError):
        raise _Fault("learner_model_param.num_feature is not a number") from None
    todo = [learner]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            trees = node.get("trees")
            if isinstance(trees, list):
                for i, tree in enumerate(trees):
                    _check_tree(tree, i, features)
            todo.extend(v for k, v in node.items() if k != "trees")
        elif isinstance(node, list):
            todo.extend(node)


def check_model_file(file: Path) -> None:
    """Raise the one model-file UsageError when ``file`` is not a whole, consistent XGBoost
    model (UBJSON or JSON)."""
    import json

    data = file.read_bytes()
    try:
        head = data.lstrip()
        if not head:
            raise _Fault("the file is empty")
        if head[:1] != b"{":
            raise _Fault("not an XGBoost model (neither UBJSON nor JSON: it does not start "
                         "with '{')")
        if head[1:2] in (b"i", b"U", b"I", b"l", b"L", b"$", b"#"):  # a UBJSON key length
            model = _Ubjson(head).decode()
        else:
            _check_json_depth(head)
            try:
                model = json.loads(head)
            except ValueError as exc:
                raise _Fault(f"not valid JSON ({exc})") from None
        _check_model(model)
    except _Fault as exc:
        raise model_file_fault("xgboost", file, str(exc)) from None


class _BoosterPredictor:
    def __init__(self, booster: Any, xgb: Any) -> None:
        self.booster, self.xgb = booster, xgb

    def predict(self, df: Any) -> Outputs:
        return {"prediction": np.asarray(self.booster.predict(self.xgb.DMatrix(df)))}


class XGBoostFlavor:
    name = "xgboost"

    def detect(self, model: Any) -> bool:
        return type(model).__module__.split(".")[0] == "xgboost"

    def libraries(self) -> list[str]:
        return ["xgboost", "xgboost-cpu", "numpy", "pandas"]

    def pickle_based(self, options: dict[str, Any]) -> bool:
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> dict[str, Any]:
        model.save_model(path / "model.ubj")
        return {"format": "ubj", "file": "model.ubj", "class": type(model).__name__}

    def load(self, path: Path, options: dict[str, Any]) -> Any:
        xgb = require("xgboost", "xgboost")
        file = path / options["file"]
        cls = options.get("class", "Booster")
        if cls not in CLASSES:
            raise model_file_fault(self.name, file, f"its manifest names the class {cls!r}, "
                                   f"not one of {', '.join(sorted(CLASSES))}")
        with loading(self.name, file):
            check_model_file(file)
            model = xgb.Booster() if cls == "Booster" else getattr(xgb, cls)()
            model.load_model(str(file))
        if cls == "Booster":
            return _BoosterPredictor(model, xgb)
        return EstimatorPredictor(model)
