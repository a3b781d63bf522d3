"""Reference profiles: small, mergeable summaries of a table that drift is scored against.

Per numeric column: rows, missing (null, NaN or infinite), count, min, max, sum, sum of
squares, the centred sum of squares (for a stable standard deviation) and the bucket sketch
of :mod:`._sketch` (at most ``buckets`` non-empty buckets, 4,096 by default; a column with
fewer distinct values is kept exactly). Per categorical column: exact category counts up to
``max_categories`` (10,000 by default); past that the most frequent are kept (ties by value)
and the rest are pooled into the ``__other__`` category, so merges stay exact below the cap.

A profile is built in one pass over row batches (:meth:`Profile.from_data`), and
``p1.merge(p2)`` is the profile of both inputs: the sketches and counts merge exactly (so daily
profiles roll up to weekly ones and give the drift results of profiling the week at once);
floating sums can differ in their last bits with the order of the batches.

On disk (:meth:`Profile.save`) a profile is one UTF-8 JSON document
``{"format": "airlock.profile", "version": 1, ...}`` whose arrays are delta-encoded, stored in
the smallest unsigned integer type, zlib-compressed and base64-encoded: about 3-7 KB per numeric
column, so 100 columns stay under 1 MB. A file of another format version is refused with a
clear error rather than misread.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from airlock._files import write_atomic
from airlock.errors import InvalidInput, NotFound, UsageError, file_not_found

from ._data import BATCH_ROWS, Data, column_kind, open_data, to_float, to_text
from ._sketch import DEFAULT_BUCKETS, Sketch

__all__ = ["FORMAT", "OTHER", "VERSION", "CategoricalProfile", "ColumnProfile",
           "NumericProfile", "Profile", "select_columns"]

FORMAT = "airlock.profile"
VERSION = 1
MAX_CATEGORIES = 10_000
OTHER = "__other__"

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class NumericProfile:
    """Summary of one numeric column."""

    rows: int
    count: int
    min: float | None
    max: float | None
    sum: float
    sum_sq: float
    m2: float
    integer: bool
    sketch: Sketch
    kind: str = "numerical"

    @property
    def missing(self) -> int:
        return self.rows - self.count

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    @property
    def std(self) -> float | None:
        """Population standard deviation (ddof=0)."""
        return float(np.sqrt(max(self.m2, 0.0) / self.count)) if self.count else None

    @classmethod
    def from_values(cls, values: F64, *, integer: bool,
                    buckets: int = DEFAULT_BUCKETS) -> tuple[NumericProfile, F64]:
        """The profile of ``values`` (NaN for nulls) and its finite values, sorted."""
        finite = np.sort(values[np.isfinite(values)])
        n = int(finite.size)
        sketch = Sketch.from_values(finite, buckets, presorted=True)
        if n == 0:
            return cls(int(values.size), 0, None, None, 0.0, 0.0, 0.0, integer, sketch), finite
        total = float(finite.sum())
        centred = finite - total / n
        prof = cls(int(values.size), n, float(finite[0]), float(finite[-1]), total,
                   float(np.dot(finite, finite)), float(np.dot(centred, centred)), integer,
                   sketch)
        return prof, finite

    def merge(self, other: NumericProfile) -> NumericProfile:
        n = self.count + other.count
        if self.count == 0 or other.count == 0:
            base = other if self.count == 0 else self
            return replace(base, rows=self.rows + other.rows,
                           integer=self.integer and other.integer,
                           sketch=self.sketch.merge(other.sketch))
        delta = other.sum / other.count - self.sum / self.count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        return NumericProfile(
            self.rows + other.rows, n, min(self.min, other.min),  # type: ignore[type-var]
            max(self.max, other.max), self.sum + other.sum,  # type: ignore[type-var]
            self.sum_sq + other.sum_sq, m2, self.integer and other.integer,
            self.sketch.merge(other.sketch))

    def to_json(self) -> dict[str, Any]:
        s = self.sketch
        return {"kind": self.kind, "rows": self.rows, "count": self.count, "min": self.min,
                "max": self.max, "sum": self.sum, "sum_sq": self.sum_sq, "m2": self.m2,
                "integer": self.integer, "shift": s.shift, "max_buckets": s.max_buckets,
                "first_key": int(s.keys[0]) if s.keys.size else 0,
                "key_deltas": _pack(np.diff(s.keys).view(np.uint64)),
                "counts": _pack(s.counts.view(np.uint64))}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NumericProfile:
        deltas = _unpack(d["key_deltas"])
        counts = _unpack(d["counts"]).view(np.int64)
        if deltas.size != max(counts.size - 1, 0):
            raise ValueError("sketch arrays disagree in length")
        keys = np.empty(counts.size, dtype=np.uint64)
        if counts.size:
            keys[0] = np.int64(d["first_key"]).view(np.uint64)
            keys[1:] = deltas
            keys = np.cumsum(keys, dtype=np.uint64)
        sketch = Sketch(keys.view(np.int64), counts, int(d["shift"]), int(d["max_buckets"]))
        return cls(int(d["rows"]), int(d["count"]), _opt_float(d["min"]), _opt_float(d["max"]),
                   float(d["sum"]), float(d["sum_sq"]), float(d["m2"]), bool(d["integer"]),
                   sketch)


@dataclass(frozen=True, slots=True, eq=False)
class CategoricalProfile:
    """Exact category counts of one column (``counts`` aligned with sorted ``categories``)."""

    rows: int
    categories: tuple[str, ...]
    counts: NDArray[np.int64]
    max_categories: int = MAX_CATEGORIES
    kind: str = "categorical"

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    @property
    def missing(self) -> int:
        return self.rows - self.count

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self.categories, self.counts.tolist(), strict=True))

    @classmethod
    def from_counts(cls, rows: int, counts: Mapping[str, int],
                    max_categories: int = MAX_CATEGORIES) -> CategoricalProfile:
        items = {k: int(v) for k, v in counts.items() if v}
        if len(items) > max_categories:
            ranked = sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = dict(ranked[: max_categories - 1])
            kept[OTHER] = kept.get(OTHER, 0) + sum(v for _, v in ranked[max_categories - 1:])
            items = kept
        names = tuple(sorted(items))
        return cls(rows, names, np.array([items[k] for k in names], dtype=np.int64),
                   max_categories)

    @classmethod
    def from_array(cls, col: pa.ChunkedArray | pa.Array,
                   max_categories: int = MAX_CATEGORIES) -> CategoricalProfile:
        return cls.from_counts(len(col), value_counts(col), max_categories)

    def merge(self, other: CategoricalProfile) -> CategoricalProfile:
        counts = self.as_dict()
        for k, v in other.as_dict().items():
            counts[k] = counts.get(k, 0) + v
        return CategoricalProfile.from_counts(self.rows + other.rows, counts,
                                              min(self.max_categories, other.max_categories))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "max_categories": self.max_categories,
                "categories": list(self.categories),
                "counts": _pack(self.counts.view(np.uint64))}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        counts = _unpack(d["counts"]).view(np.int64)
        names = tuple(str(c) for c in d["categories"])
        if len(names) != counts.size:
            raise ValueError("categories and counts disagree in length")
        return cls(int(d["rows"]), names, counts, int(d["max_categories"]))


ColumnProfile = NumericProfile | CategoricalProfile


def value_counts(col: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """Non-null category counts of a column (computed in Arrow, not per row)."""
    import pyarrow.compute as pc

    vc = pc.value_counts(to_text(col))
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    return {v: int(c) for v, c in zip(values, counts, strict=True) if v is not None}


def _pack(arr: NDArray[Any]) -> dict[str, Any]:
    top = int(arr.max()) if arr.size else 0
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                 if top <= np.iinfo(t).max)
    raw = zlib.compress(arr.astype(dtype).tobytes(), 9)
    return {"dtype": np.dtype(dtype).str, "n": int(arr.size),
            "zlib_b64": base64.b64encode(raw).decode("ascii")}


def _unpack(d: Mapping[str, Any]) -> NDArray[np.uint64]:
    dtype = np.dtype(str(d["dtype"]))
    if dtype.kind != "u":
        raise ValueError(f"unexpected array type {dtype}")
    arr = np.frombuffer(zlib.decompress(base64.b64decode(d["zlib_b64"])), dtype=dtype)
    if arr.size != int(d["n"]):
        raise ValueError("array length does not match")
    return arr.astype(np.uint64)


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


NOT_TEXT = ("column {name!r} of the {what} is bytes that are not UTF-8 text (a file in "
            "another encoding, such as Latin-1?): re-encode it as UTF-8, or leave the column "
            "out (columns=/--columns)")


def select_columns(schema: pa.Schema, columns: Sequence[str] | None,
                   categorical: Iterable[str] = (), numerical: Iterable[str] = (), *,
                   what: str = "data") -> dict[str, str]:
    """Column → kind ('numerical' or 'categorical') for the columns to profile or score.

    By default every numeric, string, boolean or dictionary column; ``categorical`` and
    ``numerical`` force a kind. A named column that is missing or of an unsupported type is
    an error; unsupported types (dates, lists, ...) are skipped when no columns are named.
    """
    names = list(schema.names)
    forced = {c: "categorical" for c in categorical} | {c: "numerical" for c in numerical}
    for c in [*(columns or []), *forced]:
        if c not in names:
            raise NotFound(f"column {c!r} is not in the {what} (it has: "
                           f"{', '.join(names[:20])}{', …' if len(names) > 20 else ''})")
    out: dict[str, str] = {}
    for name in (columns if columns is not None else names):
        kind = column_kind(schema.field(name).type)
        if name in forced:
            if forced[name] == "numerical" and kind != "numerical":
                raise InvalidInput(f"column {name!r} is {schema.field(name).type}, not numeric")
            kind = forced[name]
        if kind is None:
            dtype = schema.field(name).type
            if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
                raise InvalidInput(NOT_TEXT.format(name=name, what=what))
            if columns is not None:
                raise InvalidInput(f"column {name!r} has type {dtype}: drift "
                                   "is measured on numeric and categorical columns only")
            continue
        out[name] = kind
    return out


def unsupported_columns(schema: pa.Schema, kinds: Mapping[str, str]) -> dict[str, str]:
    """The columns :func:`select_columns` left out (not in ``kinds``), each with why."""
    return {f.name: f"has type {f.type}: drift is measured on numeric and categorical "
                    "columns only" for f in schema if f.name not in kinds}


def _batch_profile(kind: str, col: pa.ChunkedArray, buckets: int,
                   max_categories: int) -> ColumnProfile:
    if kind == "categorical":
        return CategoricalProfile.from_array(col, max_categories)
    integer = pa.types.is_integer(col.type)
    return NumericProfile.from_values(to_float(col), integer=integer, buckets=buckets)[0]


def _merge_into(profiles: dict[str, ColumnProfile], name: str, new: ColumnProfile) -> None:
    old = profiles.get(name)
    profiles[name] = new if old is None else _merge_column(name, old, new)


def _merge_column(name: str, a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if isinstance(a, NumericProfile) and isinstance(b, NumericProfile):
        if a.sketch.max_buckets != b.sketch.max_buckets:
            raise UsageError(f"column {name!r}: profiles with different bucket budgets "
                             f"({a.sketch.max_buckets} and {b.sketch.max_buckets}) do not merge")
        return a.merge(b)
    if isinstance(a, CategoricalProfile) and isinstance(b, CategoricalProfile):
        return a.merge(b)
    raise UsageError(f"column {name!r} is {a.kind} in one profile and {b.kind} in the other")


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """A reference profile: one summary per column; see the module docstring."""

    columns: dict[str, ColumnProfile]
    rows: int
    skipped: dict[str, str] = field(default_factory=dict)
    """Columns of the data left out of the profile, each with why."""

    @classmethod
    def from_data(cls, data: Any, *, columns: Sequence[str] | None = None,
                  categorical: Iterable[str] = (), numerical: Iterable[str] = (),
                  buckets: int = DEFAULT_BUCKETS, max_categories: int = MAX_CATEGORIES,
                  batch_rows: int = BATCH_ROWS) -> Profile:
        """Profile a table or a file, streaming it in batches of ``batch_rows`` rows."""
        if buckets < 16:
            raise UsageError(f"buckets must be at least 16, got {buckets}")
        src: Data = open_data(data, what="reference")
        kinds = select_columns(src.schema, columns, categorical, numerical, what=src.name)
        if not kinds:
            raise InvalidInput(f"{src.name} has no numeric or categorical column to profile")
        profiles: dict[str, ColumnProfile] = {}
        rows = 0
        for batch in src.batches(list(kinds), batch_rows):
            rows += batch.num_rows
            for name, kind in kinds.items():
                _merge_into(profiles, name, _batch_profile(kind, batch.column(name), buckets,
                                                           max_categories))
        if rows == 0:
            raise InvalidInput(f"{src.name} has no rows to profile")
        skipped = unsupported_columns(src.schema, kinds) if columns is None else {}
        return cls({name: profiles[name] for name in kinds}, rows, skipped)

    def merge(self, other: Profile) -> Profile:
        """The profile of both inputs together (the same columns, of the same kinds)."""
        if not isinstance(other, Profile):
            raise UsageError(f"can only merge a Profile, got {type(other).__name__}")
        if set(self.columns) != set(other.columns):
            extra = sorted(set(self.columns) ^ set(other.columns))
            raise UsageError(f"profiles of different columns do not merge (only in one: "
                             f"{', '.join(extra)})")
        merged = {n: _merge_column(n, a, other.columns[n]) for n, a in self.columns.items()}
        return Profile(merged, self.rows + other.rows, {**self.skipped, **other.skipped})

    # -- persistence ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out = {"format": FORMAT, "version": VERSION, "rows": self.rows,
               "columns": {n: c.to_json() for n, c in self.columns.items()}}
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False).encode()

    def save(self, path: str | Path) -> Path:
        """Write atomically (a temporary file, then a rename); returns the path."""
        out = Path(path)
        return write_atomic(out, self.to_bytes())

    @classmethod
    def from_bytes(cls, raw: bytes, *, name: str = "profile") -> Profile:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{name} is not an airlock profile (not JSON)") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InvalidInput(f"{name} is not an airlock profile (no format {FORMAT!r})")
        version = doc.get("version")
        if version != VERSION:
            raise InvalidInput(f"{name} has profile format version {version!r}; this airlock "
                               f"reads version {VERSION} only")
        try:
            cols: dict[str, ColumnProfile] = {}
            for n, c in doc["columns"].items():
                cols[n] = (CategoricalProfile.from_json(c) if c["kind"] == "categorical"
                           else NumericProfile.from_json(c))
            skipped = doc.get("skipped") or {}
            return cls(cols, int(doc["rows"]), {str(k): str(v) for k, v in skipped.items()})
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise InvalidInput(f"{name} is a damaged airlock profile: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        p = Path(path)
        if not p.is_file():
            raise file_not_found(path, "profile file")
        return cls.from_bytes(p.read_bytes(), name=f"profile {str(path)!r}")

    @staticmethod
    def is_profile(path: str | Path) -> bool:
        """True when the file at ``path`` starts like a saved profile (cheap sniffing)."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(64)
        except OSError:
            return False
        return head.lstrip().startswith(b'{"format":"' + FORMAT.encode())

    def summary(self) -> dict[str, Any]:
        """Rows, and per column kind, count, missing and (numeric) min/max/mean/std."""
        cols: dict[str, Any] = {}
        for n, c in self.columns.items():
            entry: dict[str, Any] = {"kind": c.kind, "count": c.count, "missing": c.missing}
            if isinstance(c, NumericProfile):
                entry.update(min=c.min, max=c.max, mean=c.mean, std=c.std,
                             buckets=int(c.sketch.keys.size), exact=c.sketch.exact)
            else:
                entry["categories"] = len(c.categories)
            cols[n] = entry
        out: dict[str, Any] = {"rows": self.rows, "columns": cols}
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out
