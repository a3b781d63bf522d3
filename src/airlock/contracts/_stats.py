"""Distribution (PSI against a reference) and leakage checks, as lazy polars aggregations.

PSI: numeric columns are binned on the reference's quantiles (``bins`` bins; the counts at
or below each edge are one aggregation per frame), text columns by category frequency.
Empty bins get ``EPSILON`` so the logarithm stays finite.

Leakage: the target is binarised (two values: the larger one is positive; numeric with more
values: above its median). A feature fails when it is an exact copy of the target, when a
numeric feature's AUC is >= ``max_auc`` or <= 1 - ``max_auc``, or when predicting the
majority target class of each category reaches an accuracy >= ``max_auc`` (and beats always
predicting the overall majority class). Categorical features with more than one category
per ``MIN_ROWS_PER_CATEGORY`` rows (identifiers) are not judged by that last rule.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from ._model import Distribution
from ._result import CheckResult

__all__ = ["leakage_checks", "psi", "psi_checks"]

EPSILON = 1e-4
MIN_ROWS_PER_CATEGORY = 10


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index of two aligned count vectors."""
    te, ta = sum(expected) or 1.0, sum(actual) or 1.0
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / te, EPSILON), max(a / ta, EPSILON)
        total += (pa - pe) * math.log(pa / pe)
    return total


def psi_checks(lf: pl.LazyFrame, reference_lf: pl.LazyFrame,
               dist: Distribution) -> list[CheckResult]:
    """One ``psi`` check per column of ``dist.max_psi``."""
    schema, ref_schema = lf.collect_schema(), reference_lf.collect_schema()
    out: list[CheckResult] = []
    for col, limit in dist.max_psi.items():
        if col not in schema or col not in ref_schema:
            where = "data" if col not in schema else "reference"
            out.append(CheckResult("psi", col, dist.severity, False, 0, 1.0, [],
                                   f"column {col!r} is not in the {where}"))
            continue
        dtype = ref_schema[col]
        if dtype.is_numeric():
            expected, actual = _numeric_counts(lf, reference_lf, col, dist.bins)
        else:
            expected, actual = _category_counts(lf, reference_lf, col)
        value = psi(expected, actual)
        ok = value <= limit
        out.append(CheckResult("psi", col, dist.severity, ok, 0 if ok else 1,
                               0.0 if ok else 1.0, [],
                               f"PSI {value:.4f} (at most {limit:g})"))
    return out


def _numeric_counts(lf: pl.LazyFrame, ref: pl.LazyFrame, col: str,
                    bins: int) -> tuple[list[float], list[float]]:
    c = pl.col(col).cast(pl.Float64)
    qs = ref.select([c.quantile(i / bins, "linear").alias(f"q{i}")
                     for i in range(1, bins)]).collect(engine="streaming").row(0)
    edges = sorted({float(q) for q in qs if q is not None})

    def counts(frame: pl.LazyFrame) -> list[float]:
        row = frame.select([*[(c <= e).sum().alias(f"e{i}") for i, e in enumerate(edges)],
                            c.count().alias("n")]).collect(engine="streaming").row(0)
        cum = [float(v or 0) for v in row]
        return [b - a for a, b in zip([0.0, *cum[:-1]], cum, strict=True)]
    return counts(ref), counts(lf)


def _category_counts(lf: pl.LazyFrame, ref: pl.LazyFrame,
                     col: str) -> tuple[list[float], list[float]]:
    def freq(frame: pl.LazyFrame) -> dict[Any, float]:
        got = (frame.select(pl.col(col).cast(pl.String)).drop_nulls().group_by(col).len()
               .collect(engine="streaming"))
        return dict(zip(got[col].to_list(), [float(v) for v in got["len"].to_list()],
                        strict=True))
    e, a = freq(ref), freq(lf)
    keys = sorted(set(e) | set(a))
    return [e.get(k, 0.0) for k in keys], [a.get(k, 0.0) for k in keys]


# --- leakage --------------------------------------------------------------------------------

def _binarised(lf: pl.LazyFrame, target: str) -> pl.Expr:
    t = pl.col(target)
    dtype = lf.collect_schema()[target]
    stats = lf.select(t.n_unique().alias("k"), t.max().alias("hi"),
                      (t.median() if dtype.is_numeric() else t.max()).alias("mid")
                      ).collect(engine="streaming").row(0, named=True)
    if dtype.is_numeric() and stats["k"] > 3:
        above: pl.Expr = (t > stats["mid"]).cast(pl.Int64)
        return above
    top: pl.Expr = (t == stats["hi"]).cast(pl.Int64)
    return top


def leakage_checks(lf: pl.LazyFrame, target: str, features: list[str], max_auc: float,
                   *, severity: str = "error") -> list[CheckResult]:
    """One ``leakage`` check per feature present in the data."""
    schema = lf.collect_schema()
    if target not in schema:
        return [CheckResult("leakage", target, severity, False, 0, 1.0, [],
                            f"target column {target!r} is not in the data")]
    present = [f for f in features if f in schema and f != target]
    data = lf.filter(pl.col(target).is_not_null()).with_columns(
        _binarised(lf, target).alias("__y"))
    copies = _copies(data, target, present)
    numeric = [f for f in present if schema[f].is_numeric() or schema[f].is_temporal()]
    aucs = _aucs(data, numeric) if numeric else {}
    out: list[CheckResult] = []
    for f in present:
        if copies[f]:
            out.append(_leak(f, severity, f"{f} is an exact copy of the target {target}"))
        elif f in aucs:
            auc = aucs[f]
            bad = auc is not None and (auc >= max_auc or auc <= 1 - max_auc)
            out.append(_leak(f, severity, f"AUC {auc:.4f} against {target}") if bad else
                       CheckResult("leakage", f, severity, True, detail=f"AUC {auc}"))
        else:
            out.append(_categorical(data, f, max_auc, severity))
    return out


def _leak(feature: str, severity: str, detail: str) -> CheckResult:
    return CheckResult("leakage", feature, severity, False, 1, 1.0, [], detail)


def _copies(data: pl.LazyFrame, target: str, features: list[str]) -> dict[str, bool]:
    t = pl.col(target).cast(pl.String)
    row = data.select([(~pl.col(f).cast(pl.String).eq_missing(t)).sum().alias(f)
                       for f in features]).collect(engine="streaming").row(0, named=True)
    return {f: int(row[f] or 0) == 0 for f in features}


def _aucs(data: pl.LazyFrame, numeric: list[str]) -> dict[str, float | None]:
    """Mann-Whitney AUC per feature (average ranks for ties; rows with a null skipped)."""
    y = pl.col("__y")
    exprs: list[pl.Expr] = []
    for f in numeric:
        present = pl.col(f).is_not_null()
        exprs += [(pl.col(f).rank("average") * y).sum().alias(f"{f}|r"),
                  y.filter(present).sum().alias(f"{f}|p"), pl.col(f).count().alias(f"{f}|n")]
    row = data.select(exprs).collect(engine="streaming").row(0, named=True)
    out: dict[str, float | None] = {}
    for f in numeric:
        pos, n = float(row[f"{f}|p"] or 0), float(row[f"{f}|n"] or 0)
        neg = n - pos
        out[f] = None if pos == 0 or neg == 0 else \
            (float(row[f"{f}|r"] or 0) - pos * (pos + 1) / 2) / (pos * neg)
    return out


def _categorical(data: pl.LazyFrame, f: str, max_auc: float, severity: str) -> CheckResult:
    got = (data.group_by(f).agg(pl.col("__y").sum().alias("p"), pl.len().alias("n"))
           .select(pl.len().alias("k"), pl.col("n").sum().alias("n"), pl.col("p").sum().alias("p"),
                   pl.max_horizontal("p", pl.col("n") - pl.col("p")).sum().alias("hit"))
           .collect(engine="streaming").row(0, named=True))
    n, k = float(got["n"] or 0), int(got["k"] or 0)
    if n == 0 or k * MIN_ROWS_PER_CATEGORY > n:
        return CheckResult("leakage", f, severity, True,
                           detail=f"not judged: {k} categories in {int(n)} rows")
    accuracy = float(got["hit"]) / n
    base = max(float(got["p"]), n - float(got["p"])) / n
    bad = accuracy >= max_auc and accuracy > base
    detail = f"per-category majority accuracy {accuracy:.4f} (base rate {base:.4f})"
    return _leak(f, severity, detail) if bad else CheckResult("leakage", f, severity, True,
                                                              detail=detail)
