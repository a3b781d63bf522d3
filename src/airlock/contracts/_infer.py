"""Infer a starting contract from data: types, nullability, ranges, categories, uniqueness and
PII guesses.

The data is read lazily with polars. One streaming aggregation pass gives, per column, the null
count, min/max, an approximate distinct count (HyperLogLog) and string lengths. A second
streaming pass touches only the few columns that need exact answers: the distinct values of
category candidates and the exact distinct count of uniqueness candidates. PII value patterns
are checked on the first ``sample_rows`` rows.

What an inferred contract records, on purpose:

* ``min``/``max`` (numbers; dates and datetimes as ISO strings) and ``min_length``/``max_length``
  are the observed range widened by a margin (10% of its width each side, rounded outward,
  never across zero where the data did not cross it: see ``_margin``), so an untouched
  held-out split of the same data passes; the observed values are kept under ``observed:``.
  A starting point that a person tightens or loosens where the domain says so.
* ``nullable: false`` when the column had no nulls; otherwise nullable with no maximum fraction.
* ``category`` with a sorted ``allowed`` list for text with at most ``max_categories`` distinct
  values that are also at most 5% of the rows; ``unique: true`` for int and text columns with
  no nulls and as many distinct values as rows.
* ``pii`` guesses from the column name, then from values (emails, phone numbers, IPv4), with a
  description saying what the guess was based on. They are guesses: review them.
* Columns of types a contract cannot check (lists, structs, binary, durations…) are left out
  and named in the contract description.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from airlock._files import reading, scan_table
from airlock.contracts._model import ColumnSpec, ContractSpec, Observed
from airlock.data import to_lazy
from airlock.errors import InvalidInput

from ._margin import MARGIN, widen

__all__ = ["infer_contract"]

_CATEGORY_SHARE = 0.05  # distinct values at most this share of the rows to be a category
_PII_SHARE = 0.8  # share of sampled non-null values matching a pattern to guess PII
_VALUE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("email", "email addresses", r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    ("ip_address", "IPv4 addresses", r"^(?:\d{1,3}\.){3}\d{1,3}$"),
    ("phone", "phone numbers", r"^\+?[0-9 ().-]{7,20}$"),
)
_DATE_LIKE = r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$"
_NAME_TOKENS: tuple[tuple[str, frozenset[str]], ...] = (
    ("email", frozenset({"email", "mail", "e-mail"})),
    ("phone", frozenset({"phone", "telephone", "tel", "mobile", "cell", "fax"})),
    ("ip_address", frozenset({"ip", "ipv4", "ipv6"})),
    ("date_of_birth", frozenset({"dob", "birth", "birthday", "birthdate"})),
    ("national_id", frozenset({"ssn", "national", "passport", "nino", "sin", "tin"})),
    ("address", frozenset({"address", "street", "zip", "zipcode", "postcode", "postal"})),
    ("name", frozenset({"name", "surname", "firstname", "lastname", "fullname", "forename",
                        "givenname", "first", "last"})),
)


def infer_contract(data: Any, *, name: str | None = None, max_categories: int = 50,
                   sample_rows: int = 100_000, keep_index: bool = False) -> ContractSpec:
    """A starting contract for ``data``: a path (CSV, Parquet file, directory or glob, JSON
    lines, Arrow IPC) or any table-like airlock accepts (pandas, polars, Arrow, …). Index
    columns pandas wrote to a file are left out unless ``keep_index``."""
    if isinstance(data, str | Path):
        lf = scan_table(data, keep_index=keep_index)
        with reading(str(data)):
            return _infer(lf, name or _stem(str(data)), max_categories, sample_rows)
    return _infer(to_lazy(data), name or "inferred", max_categories, sample_rows)


def _infer(lf: pl.LazyFrame, name: str, max_categories: int, sample_rows: int) -> ContractSpec:
    schema = lf.collect_schema()
    if not schema:
        raise InvalidInput("cannot infer a contract: the data has no columns")
    names = list(schema)
    kinds = {c: _kind(dt) for c, dt in schema.items()}
    stats = _stats(lf, kinds)
    rows = int(stats["rows"])
    exact = _exact(lf, kinds, stats, rows, max_categories)
    pii = _pii(lf, kinds, sample_rows)
    columns = {c: _column(i, kind, stats, exact, rows, max_categories, pii.get(c))
               for i, (c, kind) in enumerate(kinds.items()) if kind is not None}
    skipped = [f"{c} ({schema[c]})" for c in names if kinds[c] is None]
    description = (f"inferred from {rows} rows; ranges are the observed ones (under observed) "
                   f"widened by {MARGIN:.0%} of their width on each side")
    if skipped:
        description += "; columns of types a contract cannot check: " + ", ".join(skipped)
    return ContractSpec(name=name, version=1, description=description, columns=columns)


def _stem(path: str) -> str:
    base = Path(path.rstrip("/").split("*")[0].rstrip("/") or path).name
    for suffix in (".gz", ".zst", ".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson",
                   ".json", ".arrow", ".feather", ".ipc"):
        base = base.removesuffix(suffix)
    return base or "inferred"


def _kind(dtype: pl.DataType) -> str | None:
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return "float"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "string"
    if isinstance(dtype, pl.Boolean):
        return "bool"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if isinstance(dtype, pl.Date):
        return "date"
    if isinstance(dtype, pl.Null):
        return "string"
    return None


def _stats(lf: pl.LazyFrame, kinds: dict[str, str | None]) -> dict[str, Any]:
    """The one streaming pass over everything: a single row of aggregates."""
    exprs: list[pl.Expr] = [pl.len().alias("rows")]
    for i, (c, kind) in enumerate(kinds.items()):
        if kind is None:
            continue
        col = pl.col(c)
        exprs += [col.null_count().alias(f"{i}:nulls"), col.approx_n_unique().alias(f"{i}:n")]
        if kind in ("int", "float", "date", "datetime"):
            exprs += [col.min().alias(f"{i}:min"), col.max().alias(f"{i}:max")]
        if kind == "string":
            length = col.cast(pl.String).str.len_chars()
            exprs += [length.min().alias(f"{i}:minlen"), length.max().alias(f"{i}:maxlen")]
    return lf.select(exprs).collect(engine="streaming").row(0, named=True)


def _exact(lf: pl.LazyFrame, kinds: dict[str, str | None], stats: dict[str, Any], rows: int,
           max_categories: int) -> dict[str, Any]:
    """Exact distinct values of category candidates and exact distinct counts of uniqueness
    candidates (the approximate count is within a few percent)."""
    exprs: list[pl.Expr] = []
    for i, (c, kind) in enumerate(kinds.items()):
        approx = int(stats.get(f"{i}:n") or 0)
        if kind == "string" and approx <= max_categories * 1.1 + 2 and \
                approx <= _CATEGORY_SHARE * rows * 1.1 + 2:
            exprs.append(pl.col(c).cast(pl.String).drop_nulls().unique().implode()
                         .alias(f"{i}:values"))
        if kind in ("int", "string") and stats[f"{i}:nulls"] == 0 and rows > 1 and \
                approx >= 0.9 * rows:
            exprs.append(pl.col(c).n_unique().alias(f"{i}:exact"))
    if not exprs:
        return {}
    return lf.select(exprs).collect(engine="streaming").row(0, named=True)


def _column(i: int, kind: str, stats: dict[str, Any], exact: dict[str, Any], rows: int,
            max_categories: int, pii: tuple[str, str] | None) -> ColumnSpec:
    spec: dict[str, Any] = {"type": kind, "nullable": bool(stats[f"{i}:nulls"] > 0)}
    observed: dict[str, Any] = {}
    values = exact.get(f"{i}:values")
    distinct = len(values) if values is not None else None
    if kind == "string" and distinct is not None and \
            0 < distinct <= min(max_categories, _CATEGORY_SHARE * rows):
        spec.update(type="category", allowed=sorted(values or []))
    elif kind == "string":
        seen = (stats[f"{i}:minlen"], stats[f"{i}:maxlen"])
        spec.update(zip(("min_length", "max_length"), widen("length", *seen), strict=True))
        observed.update(zip(("min_length", "max_length"), seen, strict=True))
    if kind in ("int", "float", "date", "datetime"):
        seen = (stats[f"{i}:min"], stats[f"{i}:max"])
        lo, hi = widen(kind, *seen)
        spec.update(min=_bound(lo), max=_bound(hi))
        observed.update(min=_bound(seen[0]), max=_bound(seen[1]))
    if any(spec.get(k) != v for k, v in observed.items()):
        spec["observed"] = Observed(**{k: v for k, v in observed.items() if v is not None})
    if exact.get(f"{i}:exact") == rows:
        spec["unique"] = True
    if pii is not None:
        spec.update(pii=pii[0], description=pii[1])
    return ColumnSpec(**{k: v for k, v in spec.items() if v is not None})


def _bound(value: Any) -> float | str | None:
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def _pii(lf: pl.LazyFrame, kinds: dict[str, str | None], sample_rows: int
         ) -> dict[str, tuple[str, str]]:
    """PII guesses: ``{column: (tag, description)}``, by column name first, then by values."""
    out: dict[str, tuple[str, str]] = {}
    for c, kind in kinds.items():
        tag = _pii_from_name(c)
        if tag is not None and kind is not None:
            out[c] = (tag, f"PII guessed from the column name {c!r}: {tag}")
    text = [c for c, kind in kinds.items() if kind == "string" and c not in out]
    if not text or sample_rows <= 0:
        return out
    exprs: list[pl.Expr] = []
    for i, c in enumerate(text):
        s = pl.col(c).cast(pl.String).drop_nulls()
        exprs.append(s.len().alias(f"{i}:n"))
        for tag, _, pattern in _VALUE_PATTERNS:
            hit = s.str.contains(pattern)
            if tag == "phone":
                digits = s.str.count_matches(r"\d")
                hit = (hit & digits.is_between(7, 15) & s.str.contains(r"[ ().+-]")
                       & ~s.str.contains(_DATE_LIKE))  # plain digit ids are not phones
            exprs.append(hit.sum().alias(f"{i}:{tag}"))
    counts = lf.head(sample_rows).select(exprs).collect(engine="streaming").row(0, named=True)
    for i, c in enumerate(text):
        n = int(counts[f"{i}:n"])
        for tag, what, _ in _VALUE_PATTERNS:
            share = int(counts[f"{i}:{tag}"]) / n if n else 0.0
            if n and share >= _PII_SHARE:
                out[c] = (tag, f"PII guessed from values: {share:.0%} of {n} sampled values "
                               f"look like {what}")
                break
    return out


def _pii_from_name(column: str) -> str | None:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column)
    tokens = set(re.split(r"[^a-z0-9]+", spaced.lower())) - {""}
    if "date" in tokens and "birth" in tokens:
        return "date_of_birth"
    for tag, words in _NAME_TOKENS:
        if tag == "name" and tokens & {"first", "last"} and "name" not in tokens:
            if len(tokens) == 1:  # a column called just "first" or "last"
                return tag
            continue
        if tokens & words:
            return tag
    return None
