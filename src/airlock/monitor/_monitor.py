"""``DriftMonitor``: learn a reference (a table, a file or a :class:`Profile`), then score
current data against it, whole or window by window.

Fitting on data keeps a profile of the reference and, for numeric columns (``exact=True``),
their sorted values, so KS and Wasserstein are exact (equal to scipy). Fitting on a profile
keeps only the profile: PSI, Jensen-Shannon, chi-square and z are the same as from the data
(the bins and counts are exact), KS and Wasserstein are exact for columns the profile holds
exactly (at most ``buckets`` distinct values) and otherwise approximate with an error bound
(see :mod:`._columns`).

Current data is read column group by column group (about ``GROUP_BYTES`` of numeric values
at a time), so a large Parquet file is never materialised whole.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from airlock.errors import InvalidInput, NotFound, UsageError

from ._columns import METHODS, Choice, missing_drift, numeric_drift, profile_categorical
from ._data import Data, column_kind, open_data, to_float
from ._profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    Profile,
    select_columns,
    unsupported_columns,
    value_counts,
)
from ._result import ColumnDrift, DriftResult
from ._sketch import DEFAULT_BUCKETS

__all__ = ["DriftMonitor"]

GROUP_BYTES = 32 * 2**20
WORKERS = min(4, os.cpu_count() or 1)
KINDS = ("numerical", "categorical")
F64 = NDArray[np.float64]


def _check_threshold(key: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value < 0:
        raise UsageError(f"threshold for {key!r} must be a finite number >= 0, got {value!r}")
    return float(value)


def _as_mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | int | float):
        return {"*": value}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise UsageError(f"{what} must be a value or a mapping of column (or kind) to value, "
                     f"got {type(value).__name__}")


def _describe(reference: Any) -> str:
    """What a reference is, for a result to state: the path, else its kind."""
    if isinstance(reference, str | Path):
        kind = "profile" if Profile.is_profile(reference) else "data"
        return f"{kind} {reference}"
    if isinstance(reference, Profile):
        return "profile"
    return f"{type(reference).__module__.split('.')[0]} table"


class DriftMonitor:
    """Data drift of current data against a reference, column by column.

    ``methods`` and ``thresholds`` take one value for every column, or a mapping whose keys
    are column names or the kinds ``"numerical"`` / ``"categorical"`` (a column name wins over
    its kind). Methods: ks, wasserstein, psi, jensenshannon (numeric) and chisquare, z, psi,
    jensenshannon, homogeneity (categorical; a chi-square test of homogeneity, for when the
    reference is a sample too); ``None`` chooses as Evidently's DataDriftPreset does.
    ``drift_share``: the dataset drifts when at least this share of columns drift (0.5).
    ``bins``: reference-quantile bins for PSI and Jensen-Shannon of numeric columns (10).
    ``exact``: when fitted on data, keep the numeric reference values for exact KS and
    Wasserstein (8 bytes per value); ``False`` keeps the profile only.
    """

    def __init__(self, *, columns: Sequence[str] | None = None,
                 categorical: Iterable[str] | None = None,
                 numerical: Iterable[str] | None = None,
                 methods: str | Mapping[str, str] | None = None,
                 thresholds: float | Mapping[str, float] | None = None,
                 drift_share: float = 0.5, bins: int = 10, exact: bool = True,
                 buckets: int = DEFAULT_BUCKETS) -> None:
        self.columns = list(columns) if columns is not None else None
        self.categorical = list(categorical or [])
        self.numerical = list(numerical or [])
        self.methods = _as_mapping(methods, "methods")
        self.thresholds = _as_mapping(thresholds, "thresholds")
        self.drift_share = drift_share
        self.bins = bins
        self.exact = exact
        self.buckets = buckets
        self._validate()

    def _validate(self) -> None:
        for key, method in self.methods.items():
            if method not in METHODS:
                raise UsageError(f"unknown drift method {method!r} for {key!r} (use one of "
                                 f"{', '.join(sorted(METHODS))})")
        for key, value in self.thresholds.items():
            _check_threshold(key, value)
        if not 0 < self.drift_share <= 1:
            raise UsageError(f"drift_share must be in (0, 1], got {self.drift_share!r}")
        if not 2 <= self.bins <= 1000:
            raise UsageError(f"bins must be between 2 and 1000, got {self.bins!r}")
        both = set(self.categorical) & set(self.numerical)
        if both:
            raise UsageError(f"column {sorted(both)[0]!r} cannot be both categorical and "
                             "numerical")

    # -- fit --------------------------------------------------------------------------------
    def fit(self, reference: Any, *, name: str | None = None) -> DriftMonitor:
        """Learn the reference: a table, a path (Parquet/CSV/…; a saved profile is
        recognised by its content) or a :class:`Profile`. ``name`` says what it is in every
        result (default: the path, or "profile"/"table"). Returns ``self``."""
        described = name or _describe(reference)
        if isinstance(reference, str | Path) and Profile.is_profile(reference):
            reference = Profile.load(reference)
        self.reference_name_ = described
        self.reference_values_: dict[str, F64] = {}
        if isinstance(reference, Profile):
            self.profile_ = self._from_profile(reference)
        elif self.exact:
            self.profile_ = self._from_data(open_data(reference, what="reference"))
        else:
            self.profile_ = Profile.from_data(
                reference, columns=self.columns, categorical=self.categorical,
                numerical=self.numerical, buckets=self.buckets)
        return self

    def _from_profile(self, profile: Profile) -> Profile:
        names = self.columns if self.columns is not None else list(profile.columns)
        for name in names:
            if name not in profile.columns:
                raise NotFound(f"column {name!r} is not in the reference profile")
        cols = {n: profile.columns[n] for n in names}
        for name in self.categorical:
            if name in cols and not isinstance(cols[name], CategoricalProfile):
                raise UsageError(f"column {name!r} is numerical in the reference profile; "
                                 "profile it with --categorical to compare it as categories")
        return Profile(cols, profile.rows, profile.skipped if self.columns is None else {})

    def _from_data(self, data: Data) -> Profile:
        kinds = select_columns(data.schema, self.columns, self.categorical, self.numerical,
                               what=data.name)
        if not kinds:
            raise InvalidInput(f"{data.name} has no numeric or categorical column")
        rows = data.count_rows()
        if rows == 0:
            raise InvalidInput(f"{data.name} has no rows")
        cols: dict[str, ColumnProfile] = {}

        def one(name: str, col: pa.ChunkedArray) -> None:
            if kinds[name] == "categorical":
                cols[name] = CategoricalProfile.from_array(col)
                return
            prof, values = NumericProfile.from_values(
                to_float(col), integer=pa.types.is_integer(col.type), buckets=self.buckets)
            cols[name] = prof
            if not prof.sketch.exact:  # an exact sketch already holds every value
                self.reference_values_[name] = values

        for group in _groups(kinds, rows):
            table = data.read(group)
            _parallel(one, [(name, table.column(name)) for name in group])
            del table
        skipped = unsupported_columns(data.schema, kinds) if self.columns is None else {}
        return Profile({n: cols[n] for n in kinds}, rows, skipped)

    # -- score ------------------------------------------------------------------------------
    def _fitted(self) -> Profile:
        profile: Profile | None = getattr(self, "profile_", None)
        if profile is None:
            raise UsageError("this DriftMonitor is not fitted yet: call fit(reference) first")
        return profile

    def _choice(self, name: str, kind: str) -> Choice:
        method = self.methods.get(name, self.methods.get(kind, self.methods.get("*")))
        threshold = self.thresholds.get(name, self.thresholds.get(kind,
                                                                 self.thresholds.get("*")))
        return Choice(method, None if threshold is None else float(threshold), self.bins,
                      forced_numerical=name in self.numerical)

    def score(self, current: Any, *, time_column: str | None = None,
              every: str | None = None) -> DriftResult:
        """Drift of ``current`` (a table, a path, or a saved :class:`Profile` of the current
        data) against the reference; with
        ``time_column`` and ``every`` the result also carries one result per window."""
        start = time.perf_counter()
        profile = self._fitted()
        if isinstance(current, str | Path) and Profile.is_profile(current):
            current = Profile.load(current)
        if isinstance(current, Profile):
            if time_column is not None or every is not None:
                raise UsageError("a profile has no rows to window: score the data instead")
            return replace(self._score_profile(profile, current),
                           seconds=time.perf_counter() - start)
        data = open_data(current, what="current data")
        result = self._score_data(profile, data, window=None)
        if time_column is not None or every is not None:
            if time_column is None or every is None:
                raise UsageError("windows need both a time column and a window length "
                                 "(time_column= and every=)")
            result = replace(result, windows=tuple(self._windows(profile, data, time_column,
                                                                 every)))
        return replace(result, seconds=time.perf_counter() - start)

    def score_windows(self, current: Any, time_column: str,
                      every: str = "1d") -> list[DriftResult]:
        """One result per window of ``every`` (a polars duration: "1h", "1d", "1w", …)
        of ``time_column``, in time order, each labelled with the window's start."""
        profile = self._fitted()
        return self._windows(profile, open_data(current, what="current data"), time_column,
                             every)

    def _check_current(self, profile: Profile, data: Data) -> None:
        schema = data.schema
        for name, ref in profile.columns.items():
            if name not in schema.names:
                raise NotFound(f"column {name!r} of the reference is not in the {data.name}")
            kind = column_kind(schema.field(name).type)
            if kind is None or (ref.kind == "numerical" and kind != "numerical"):
                raise InvalidInput(f"column {name!r} is {ref.kind} in the reference but "
                                   f"{kind or 'of an unsupported type'} "
                                   f"({schema.field(name).type}) in the {data.name}")

    def _score_data(self, profile: Profile, data: Data, window: str | None) -> DriftResult:
        self._check_current(profile, data)
        rows = data.count_rows()
        if rows == 0:
            raise InvalidInput(f"the {data.name} has no rows")
        kinds = {n: c.kind for n, c in profile.columns.items()}
        results: dict[str, ColumnDrift] = {}

        def one(name: str, col: pa.ChunkedArray) -> None:
            results[name] = self._column(name, profile.columns[name], col)

        for group in _groups(kinds, rows):
            table = data.read(group)
            _parallel(one, [(name, table.column(name)) for name in group])
            del table
        return self._result(profile, {n: results[n] for n in kinds}, rows, window)

    def _score_profile(self, profile: Profile, current: Profile) -> DriftResult:
        """Drift of a saved profile of the current data (e.g. a batch job's): categories by
        their exact counts; numbers by the profile's buckets (their values when it holds them
        exactly, else bucket midpoints, so KS and Wasserstein are approximate then)."""
        results: dict[str, ColumnDrift] = {}
        for name, ref in profile.columns.items():
            cur = current.columns.get(name)
            if cur is None:
                raise NotFound(f"column {name!r} of the reference is not in the current "
                               "profile")
            if isinstance(ref, CategoricalProfile) != isinstance(cur, CategoricalProfile):
                raise InvalidInput(f"column {name!r} is {ref.kind} in the reference but "
                                   f"{cur.kind} in the current profile")
            if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
                out = profile_categorical(name, ref, cur.rows, cur.as_dict(),
                                          self._choice(name, "categorical"))
            else:
                assert isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile)
                sk = cur.sketch
                points = sk.values() if sk.exact else (sk.lower() + sk.upper()) / 2
                values = np.concatenate([np.repeat(points, sk.counts),
                                         np.full(cur.missing, np.nan)])
                choices = {kind: self._choice(name, kind) for kind in KINDS}
                out = numeric_drift(name, ref, self.reference_values_.get(name), values,
                                    choices)
                if not sk.exact and out.method in ("ks", "wasserstein"):
                    out = replace(out, approximate=True)
            results[name] = missing_drift(out)
        return self._result(profile, results, current.rows, None)

    def _column(self, name: str, ref: ColumnProfile, col: pa.ChunkedArray) -> ColumnDrift:
        if isinstance(ref, CategoricalProfile):
            out = profile_categorical(name, ref, len(col), value_counts(col),
                                      self._choice(name, "categorical"))
        else:
            choices = {kind: self._choice(name, kind) for kind in KINDS}
            out = numeric_drift(name, ref, self.reference_values_.get(name), to_float(col),
                                choices)
        return missing_drift(out)

    def _result(self, profile: Profile, cols: dict[str, ColumnDrift], rows: int,
                window: str | None) -> DriftResult:
        n_drifted = sum(c.drifted for c in cols.values())
        share = n_drifted / len(cols)
        return DriftResult(columns=cols, drift_share=share,
                           drift_share_threshold=self.drift_share,
                           drifted=share >= self.drift_share, reference_rows=profile.rows,
                           current_rows=rows, window=window,
                           approximate=any(c.approximate for c in cols.values()),
                           reference=getattr(self, "reference_name_", None),
                           skipped=dict(profile.skipped))

    def _windows(self, profile: Profile, data: Data, time_column: str,
                 every: str) -> list[DriftResult]:
        import polars as pl

        if time_column not in data.schema.names:
            raise NotFound(f"time column {time_column!r} is not in the {data.name}")
        table = data.read([*dict.fromkeys([*profile.columns, time_column])])
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        if not frame.schema[time_column].is_temporal():
            raise InvalidInput(f"time column {time_column!r} is {frame.schema[time_column]}, "
                               "not a date or a timestamp")
        try:
            keyed = frame.with_columns(pl.col(time_column).dt.truncate(every).alias("__w"))
        except (pl.exceptions.PolarsError, ValueError) as exc:
            raise UsageError(f"invalid window length {every!r}: use a polars duration such "
                             "as 30m, 1h, 1d or 1w") from exc
        keyed = keyed.filter(pl.col("__w").is_not_null()).sort("__w", maintain_order=True)
        out = []
        for part in keyed.partition_by("__w", maintain_order=True):
            label = part["__w"][0]
            label_text = label.isoformat() if hasattr(label, "isoformat") else str(label)
            sub = Data(name=f"window {label_text}", table=part.drop("__w").to_arrow())
            out.append(self._score_data(profile, sub, label_text))
        return out


def _parallel(fn: Callable[[str, pa.ChunkedArray], None],
              items: list[tuple[str, pa.ChunkedArray]]) -> None:
    """Run ``fn`` on each column in a few threads (numpy and Arrow release the GIL in
    sorting and arithmetic); the first error is raised."""
    if WORKERS < 2 or len(items) < 2:
        for name, col in items:
            fn(name, col)
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        for future in [pool.submit(fn, name, col) for name, col in items]:
            future.result()


def _groups(kinds: Mapping[str, str], rows: int) -> list[list[str]]:
    """Columns in read groups of about GROUP_BYTES of 8-byte values (categorical columns
    count as numeric ones)."""
    size = max(1, GROUP_BYTES // max(8 * rows, 1))
    names = list(kinds)
    return [names[i:i + size] for i in range(0, len(names), size)]
