"""Streamed aggregation: frames of rows in, small per-variant sums out.

Each frame (a batch of the prediction log or a slice of a table) is reduced at once to
sufficient statistics per (variant, time bucket): units, and per metric the count, sum and
sum of squares (plus the ratio and covariate cross sums), so memory holds only the sums —
or, with a unit column, one row per unit (requests of one user are summed into one unit, the
delta method then treats each metric as a ratio of sums). Quantile metrics (latency) go into
a fixed log-spaced histogram per variant (bins 0.5 % wide), which the shared bootstrap
engine resamples as cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ._metrics import MetricSpec, value_expr

__all__ = ["HIST_BINS", "Accumulator", "Aggregates", "hist_edges"]

VARIANT, UNIT, TS, BUCKET, COV = "_variant", "_unit", "_ts", "_b", "_x"
SUMS = ("n", "s", "ss", "d", "dd", "sd", "nx", "sx", "sxx", "sxy")
_LO, _RATIO = 1e-3, 1.005  # latency histogram: 1 µs up, bins 0.5 % wide
HIST_BINS = int(np.ceil(np.log(1e7 / _LO) / np.log(_RATIO)))  # up to ~2.8 hours
_COMPACT_ROWS = 2_000_000  # unit rows kept before partial sums are merged


def hist_edges() -> np.ndarray[Any, Any]:
    """The latency histogram's bin edges (ms); bin ``i`` is ``[edges[i], edges[i+1])``."""
    return np.asarray(_LO * _RATIO ** np.arange(HIST_BINS + 1, dtype=np.float64))


@dataclass
class Aggregates:
    """What the stream added up: per variant and bucket, units and metric sums."""

    variants: list[str]
    buckets: np.ndarray[Any, Any]                       # bucket index, sorted
    units: np.ndarray[Any, Any]                         # (variants, buckets)
    sums: dict[str, dict[str, np.ndarray[Any, Any]]]   # metric -> sum name -> (V, B)
    hist: dict[str, np.ndarray[Any, Any]]              # metric -> (V, HIST_BINS) counts
    mixed_units: int = 0                                # units seen in more than one variant
    covariate_seen: bool = False
    notes: list[str] = field(default_factory=list)

    def total(self, metric: str, name: str) -> np.ndarray[Any, Any]:
        out: np.ndarray[Any, Any] = self.sums[metric][name].sum(axis=1)
        return out


class Accumulator:
    """Adds frames (with a ``_variant`` column, ``_ts`` in ms when known, ``_unit`` when
    units are not requests) into :class:`Aggregates`; bounded memory."""

    def __init__(self, *, metrics: list[MetricSpec], unit: bool, covariate: str | None,
                 bucket_ms: int | None, origin_ms: int = 0) -> None:
        self.metrics = metrics
        self.unit = unit
        self.covariate = covariate
        self.bucket_ms = bucket_ms
        self.origin_ms = origin_ms
        self._parts: list[pl.DataFrame] = []
        self._rows = 0
        self._hist: dict[tuple[str, str], np.ndarray[Any, Any]] = {}
        self._covariate_seen = False
        self.seen: set[str] = set()

    # -- per frame ---------------------------------------------------------------------
    def _bucket(self, frame: pl.DataFrame) -> pl.Expr:
        if self.bucket_ms is None or TS not in frame.columns:
            return pl.lit(0, pl.Int64).alias(BUCKET)
        return ((pl.col(TS) - self.origin_ms) // self.bucket_ms).cast(pl.Int64).alias(BUCKET)

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        schema = frame.schema
        self.seen.update(schema.names())
        cov = [pl.col(self.covariate).cast(pl.Float64).alias(COV)] \
            if self.covariate is not None and self.covariate in schema else []
        if cov:
            self._covariate_seen = True
        values = [(value_expr(m, schema) if all(c in schema for c in m.columns)
                   else pl.lit(None, pl.Float64)).alias(f"_m{i}")
                  for i, m in enumerate(self.metrics)]
        keep = [VARIANT, *([UNIT] if self.unit else []), *([TS] if TS in schema else [])]
        rows = frame.select(*keep, *values, *cov).with_columns(self._bucket(frame))
        for i, m in enumerate(self.metrics):
            if m.kind == "quantile":
                self._add_hist(m.name, rows, f"_m{i}")
        if self.unit:
            self._add_units(rows, bool(cov))
        else:
            self._parts.append(self._row_sums(rows, bool(cov)))

    def _add_hist(self, name: str, rows: pl.DataFrame, col: str) -> None:
        binned = rows.filter(pl.col(col).is_not_null() & pl.col(col).is_finite()).select(
            VARIANT, ((pl.col(col).clip(_LO, None) / _LO).log() / np.log(_RATIO))
            .floor().clip(0, HIST_BINS - 1).cast(pl.Int64).alias("bin"))
        for (variant,), part in binned.group_by([VARIANT]):
            counts = np.bincount(part["bin"].to_numpy(), minlength=HIST_BINS)
            key = (str(variant), name)
            self._hist[key] = self._hist.get(key, np.zeros(HIST_BINS, np.int64)) + counts

    def _row_sums(self, rows: pl.DataFrame, cov: bool) -> pl.DataFrame:
        aggs: list[pl.Expr] = [pl.len().alias("units")]
        for i, m in enumerate(self.metrics):
            if m.kind == "quantile":
                continue
            y = pl.col(f"_m{i}")
            aggs += [y.count().alias(f"n{i}"), y.sum().alias(f"s{i}"),
                     (y * y).sum().alias(f"ss{i}")]
            if cov:
                both = y.is_not_null() & pl.col(COV).is_not_null()
                x = pl.col(COV).filter(both)
                yx = y.filter(both)
                aggs += [both.sum().alias(f"nx{i}"), x.sum().alias(f"sx{i}"),
                         (x * x).sum().alias(f"sxx{i}"), (x * yx).sum().alias(f"sxy{i}")]
        return rows.group_by([VARIANT, BUCKET]).agg(aggs)

    def _add_units(self, rows: pl.DataFrame, cov: bool) -> None:
        rows = rows.filter(pl.col(UNIT).is_not_null())
        aggs: list[pl.Expr] = [pl.col(BUCKET).min()]
        for i, m in enumerate(self.metrics):
            if m.kind != "quantile":
                y = pl.col(f"_m{i}")
                aggs += [y.sum().alias(f"num{i}"), y.count().alias(f"den{i}")]
        if cov:
            aggs += [pl.col(COV).sum().alias("xs"), pl.col(COV).count().alias("xn")]
        self._parts.append(rows.group_by([VARIANT, UNIT]).agg(aggs))
        self._rows += self._parts[-1].height
        if self._rows > _COMPACT_ROWS and len(self._parts) > 1:
            merged = self._merge_units()
            self._parts, self._rows = [merged], merged.height

    def _merge_units(self) -> pl.DataFrame:
        parts = pl.concat(self._parts, how="diagonal_relaxed")
        sums = [pl.col(c).sum() for c in parts.columns
                if c not in (VARIANT, UNIT, BUCKET)]
        return parts.group_by([VARIANT, UNIT]).agg(pl.col(BUCKET).min(), *sums)

    # -- the end of the stream -----------------------------------------------------------
    def _unit_sums(self) -> tuple[pl.DataFrame, int]:
        units = self._merge_units()
        mixed = units.group_by(UNIT).agg(pl.col(VARIANT).n_unique().alias("k")) \
            .filter(pl.col("k") > 1).height
        has_x = "xs" in units.columns
        x = (pl.col("xs") / pl.col("xn")) if has_x else None
        aggs: list[pl.Expr] = [pl.len().alias("units")]
        for i, m in enumerate(self.metrics):
            if m.kind == "quantile":
                continue
            num, den = pl.col(f"num{i}"), pl.col(f"den{i}").cast(pl.Float64)
            seen = den > 0
            aggs += [seen.sum().alias(f"n{i}"), num.filter(seen).sum().alias(f"s{i}"),
                     (num * num).filter(seen).sum().alias(f"ss{i}"),
                     den.filter(seen).sum().alias(f"d{i}"),
                     (den * den).filter(seen).sum().alias(f"dd{i}"),
                     (num * den).filter(seen).sum().alias(f"sd{i}")]
            if x is not None:
                both = seen & x.is_not_null() & x.is_finite()
                xv, yv = x.filter(both), (num / den).filter(both)
                aggs += [both.sum().alias(f"nx{i}"), xv.sum().alias(f"sx{i}"),
                         (xv * xv).sum().alias(f"sxx{i}"), (xv * yv).sum().alias(f"sxy{i}")]
        return units.group_by([VARIANT, BUCKET]).agg(aggs), mixed

    def finish(self) -> Aggregates:
        mixed = 0
        if not self._parts:
            frame = pl.DataFrame({VARIANT: [], BUCKET: [], "units": []},
                                 schema={VARIANT: pl.String, BUCKET: pl.Int64,
                                         "units": pl.Int64})
        elif self.unit:
            frame, mixed = self._unit_sums()
        else:
            frame = pl.concat(self._parts, how="diagonal_relaxed")
            frame = frame.group_by([VARIANT, BUCKET]).agg(
                [pl.col(c).sum() for c in frame.columns if c not in (VARIANT, BUCKET)])
        frame = frame.filter(pl.col(VARIANT).is_not_null())
        variants = sorted({str(v) for v in frame[VARIANT].to_list()}
                          | {v for v, _ in self._hist})
        buckets = np.unique(frame[BUCKET].to_numpy()) if frame.height else np.zeros(1, np.int64)
        vi = {v: k for k, v in enumerate(variants)}
        bi = {int(b): k for k, b in enumerate(buckets.tolist())}
        rows = [vi[str(v)] for v in frame[VARIANT].to_list()]
        cols = [bi[int(b)] for b in frame[BUCKET].to_list()]

        def grid(name: str) -> np.ndarray[Any, Any]:
            out = np.zeros((len(variants), len(buckets)))
            if name in frame.columns:
                np.add.at(out, (rows, cols), frame[name].fill_null(0).to_numpy())
            return out

        sums: dict[str, dict[str, np.ndarray[Any, Any]]] = {}
        for i, m in enumerate(self.metrics):
            if m.kind == "quantile":
                continue
            part = {s: grid(f"{s}{i}") for s in SUMS}
            if not self.unit:  # every request is its own unit: den = 1
                part["d"], part["dd"], part["sd"] = part["n"], part["n"], part["s"]
            sums[m.name] = part
        hist = {m.name: np.stack([self._hist.get((v, m.name), np.zeros(HIST_BINS, np.int64))
                                  for v in variants]) if variants
                else np.zeros((0, HIST_BINS), np.int64)
                for m in self.metrics if m.kind == "quantile"}
        return Aggregates(variants, buckets, grid("units"), sums, hist, mixed,
                          self._covariate_seen)
