"""Validate data against a contract, lazily and in one streaming pass.

Files are scanned lazily by the one reader (``airlock._files.scan_table``: CSV/TSV, Parquet
file, folder or glob, JSON lines, Arrow IPC); in-memory pandas, polars and Arrow tables are
wrapped as a LazyFrame. Every
check's failing-row count is one expression of a single ``select`` collected with the
streaming engine, so a Parquet directory larger than RAM validates in bounded memory. Then,
only for failing checks, up to ``max_examples`` failing values are fetched with a lazy
filter + head (compound unique keys, distribution and leakage checks run their own lazy
aggregations).

CSV columns are read as text and parsed to the declared type: a value that is present but
does not parse is a ``type`` failure, reported with the text as an example. Parquet, Arrow,
JSON lines and in-memory columns carry a physical type: one that cannot hold the declared
type fails the ``type`` check as a whole.

Table ``expressions`` are SQL boolean expressions run by polars (``pl.sql_expr``), not DuckDB:
a row fails when the expression is false (null, as in a SQL CHECK constraint, passes).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from airlock._files import reading, scan_table, table_format
from airlock.data import to_lazy
from airlock.errors import InvalidInput

from ._checks import (
    Check,
    Judge,
    between,
    column_checks,
    dtype_matches,
    mask,
    parse_expr,
    raw_name,
    to_json_value,
)
from ._model import ContractSpec, Freshness, Leakage
from ._result import CheckResult, ContractResult

__all__ = ["scan", "validate"]

Engine = Literal["streaming", "in-memory"]
PROGRESS_ROWS = 1_000_000
_CSV = (".csv", ".tsv", ".txt")
_NDJSON = (".jsonl", ".ndjson")


def validate(spec: ContractSpec, data: Any, *, max_examples: int = 5,
             now: datetime | None = None, base_dir: str | Path | None = None) -> ContractResult:
    """Run every check of ``spec`` on ``data`` (a path, a glob, or an in-memory table)."""
    start = time.perf_counter()
    lf, textual = scan(data, spec)
    # a table already in memory is aggregated by the in-memory engine (parallel over the
    # checks, keeps sortedness flags); scanned files stream, in bounded memory
    engine: Engine = "streaming" if isinstance(data, str | Path | pl.LazyFrame) else "in-memory"
    faults = reading(str(data)) if isinstance(data, str | Path) else contextlib.nullcontext()
    with faults, _progress(data, lf, spec.name):
        checks, rows = _run(spec, lf, textual, max_examples, now, base_dir, engine)
    return ContractResult(contract=spec.name, rows=rows,
                          seconds=time.perf_counter() - start, checks=checks)


def _run(spec: ContractSpec, lf: pl.LazyFrame, textual: bool, max_examples: int,
         now: datetime | None, base_dir: str | Path | None,
         engine: Engine) -> tuple[list[CheckResult], int]:
    schema = lf.collect_schema()
    lf = _typed(lf, spec, schema) if textual else lf
    planned: list[Check] = []
    for name, col in spec.columns.items():
        if name not in schema:
            planned.append(Check("column_present", name, col.severity, decided=CheckResult(
                "column_present", name, col.severity, False, 0, 1.0, [],
                f"column {name!r} is not in the data")))
            continue
        type_check, wrong = _type_parts(name, col.type, schema[name], textual)
        planned.extend(column_checks(name, col, type_check=type_check, type_failure=wrong))
    typed_schema = lf.collect_schema()
    planned.extend(_expression_checks(spec, typed_schema))
    planned.extend(_freshness_check(spec.table.freshness, typed_schema, now))
    values, rows = _aggregate(lf, planned, engine)
    results = [_finish(c, v, rows, lf, max_examples)
               for c, v in zip(planned, values, strict=True)]
    results.extend(_table_checks(spec, lf, schema, rows, max_examples, base_dir, engine))
    return results, rows


def _type_parts(name: str, type_: str, dtype: pl.DataType,
                textual: bool) -> tuple[tuple[pl.Expr, pl.Expr] | None, str | None]:
    """(row-level type check, whole-column type failure) of one column."""
    if textual:
        if type_ in ("string", "category"):
            return None, None
        raw = pl.col(raw_name(name))
        fails = raw.is_not_null() & (raw.str.strip_chars() != "") & pl.col(name).is_null()
        return (fails, raw), None
    if dtype_matches(dtype, type_):
        return None, None
    if type_ == "int" and dtype.is_float():  # e.g. pandas ints with NaN: whole values pass
        col = pl.col(name)
        return ((col.is_not_null() & (col != col.floor())).fill_null(False), col), None
    return None, f"expected {type_}, the data holds {dtype}"


def _typed(lf: pl.LazyFrame, spec: ContractSpec, schema: pl.Schema) -> pl.LazyFrame:
    """Text columns parsed to their declared types, the text kept as a hidden raw column."""
    present = [n for n in spec.columns if n in schema]
    lf = lf.with_columns([pl.col(n).alias(raw_name(n)) for n in present])
    return lf.with_columns([parse_expr(n, spec.columns[n].type).alias(n) for n in present])


def _aggregate(lf: pl.LazyFrame, planned: list[Check],
               engine: Engine) -> tuple[list[Any], int]:
    """All aggregates in one pass; (values aligned with ``planned``, rows)."""
    exprs = [c.agg.alias(f"c{i}") for i, c in enumerate(planned) if c.agg is not None]
    row = lf.select([*exprs, pl.len().alias("__rows")]).collect(engine=engine).row(
        0, named=True)
    values = [row.get(f"c{i}") for i in range(len(planned))]
    return values, int(row["__rows"])


def _finish(check: Check, value: Any, rows: int, lf: pl.LazyFrame,
            max_examples: int) -> CheckResult:
    if check.decided is not None:
        return check.decided
    assert check.judge is not None
    failing, passed, detail = check.judge(value, rows)
    examples: list[Any] = []
    if not passed and max_examples > 0:
        examples = _examples(check, lf, max_examples)
    per_row = failing / rows if rows else 0.0
    fraction = per_row if check.per_row else float(not passed)
    return CheckResult(check.name, check.column, check.severity, passed, failing,
                       fraction, examples, None if passed else detail)


def _examples(check: Check, lf: pl.LazyFrame, k: int) -> list[Any]:
    if check.duplicates_of is not None:
        col = check.duplicates_of
        frame = (lf.select(pl.col(col)).drop_nulls().group_by(col).len()
                 .filter(pl.col("len") > 1).select(pl.col(col)).head(k))
    elif check.fails is not None and check.shown is not None:
        frame = lf.filter(check.fails).select(check.shown.alias("v")).head(k)
    else:
        return []
    # streaming even for in-memory tables: it stops reading once ``k`` rows are found
    values = frame.collect(engine="streaming").to_series().to_list()
    return [mask(to_json_value(v), check.pii) for v in values]


# --- inputs -------------------------------------------------------------------------------

def scan(data: Any, spec: ContractSpec) -> tuple[pl.LazyFrame, bool]:
    """(a LazyFrame over ``data``, whether its columns arrive as text to be parsed).

    CSV columns the contract declares are read as text; a pandas index column is kept only
    when the contract declares it."""
    if isinstance(data, str | Path):
        lf = scan_table(data, text=list(spec.columns), keep_index=list(spec.columns))
        return lf, table_format(data) in ("csv", "tsv")
    try:
        return to_lazy(data), False
    except InvalidInput:
        raise InvalidInput(f"cannot validate a {type(data).__name__}: expected a table") \
            from None


def _suffix(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    return Path(name).suffix


@contextlib.contextmanager
def _progress(data: Any, lf: pl.LazyFrame, name: str) -> Iterator[None]:
    """A status line on stderr for long runs (more than 1M rows, stderr a terminal)."""
    if not sys.stderr.isatty() or _estimated_rows(data, lf) <= PROGRESS_ROWS:
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"validating {name} …"):
        yield


def _estimated_rows(data: Any, lf: pl.LazyFrame) -> int:
    """Rows when cheap to know (in memory, Parquet metadata); text files: by size."""
    if isinstance(data, pl.DataFrame):
        return data.height
    if isinstance(data, str | Path):
        suffix = _suffix(str(data))
        if suffix in _CSV + _NDJSON and Path(data).is_file():
            return Path(data).stat().st_size // 50  # ~50 bytes a row
        if suffix in _NDJSON + _CSV:
            return 0
    try:
        return int(lf.select(pl.len()).collect(engine="streaming").item())
    except pl.exceptions.PolarsError:
        return 0


# --- table checks ---------------------------------------------------------------------------

def _expression_checks(spec: ContractSpec, schema: pl.Schema) -> list[Check]:
    out: list[Check] = []
    for rule in spec.table.expressions:
        try:
            expr = pl.sql_expr(rule.sql)
            pl.LazyFrame(schema=schema).select(expr).collect_schema()
        except (pl.exceptions.PolarsError, ValueError) as exc:
            out.append(Check("expression", None, rule.severity, decided=CheckResult(
                "expression", None, rule.severity, False, 0, 1.0, [],
                f"{rule.name}: cannot evaluate {rule.sql!r}: {str(exc).splitlines()[0]}")))
            continue
        fails = (~expr).fill_null(False)
        out.append(Check("expression", None, rule.severity, agg=fails.sum(),
                         judge=_expression_judge(f"{rule.name}: rows where {rule.sql!r} is false"),
                         fails=fails, shown=_shown_row(spec, expr)))
    return out


def _shown_row(spec: ContractSpec, expr: pl.Expr) -> pl.Expr:
    """The columns an expression reads, PII-tagged ones masked, as one struct."""
    names = list(dict.fromkeys(expr.meta.root_names()))
    fields = [pl.lit("***").alias(n) if n in spec.columns and spec.columns[n].pii != "none"
              else pl.col(n) for n in names]
    return pl.struct(fields) if fields else pl.lit(None)


def _expression_judge(detail: str) -> Judge:
    def judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
        n = int(value or 0)
        return n, n == 0, detail
    return judge


def _freshness_check(rule: Freshness | None, schema: pl.Schema,
                     now: datetime | None) -> list[Check]:
    if rule is None:
        return []
    if rule.column not in schema:
        return [Check("freshness", rule.column, rule.severity, decided=CheckResult(
            "freshness", rule.column, rule.severity, False, 1, 1.0, [],
            f"column {rule.column!r} is not in the data"))]
    ref = _aware(datetime.fromisoformat(rule.now)) if rule.now else _aware(
        now or datetime.now(UTC))
    max_age = rule.max_age_seconds

    def judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
        if value is None:
            return 1, False, f"no {rule.column} value to measure freshness by"
        latest = _aware(value if isinstance(value, datetime)
                        else datetime.combine(value, datetime.min.time()))
        age = (ref - latest).total_seconds()
        ok = age <= max_age
        return (0 if ok else 1), ok, f"latest {rule.column} is {latest.isoformat()}, " \
            f"{age / 3600:.1f} h before {ref.isoformat()}; at most {rule.max_age} allowed"
    return [Check("freshness", rule.column, rule.severity, agg=pl.col(rule.column).max(),
                  judge=judge, per_row=False)]


def _aware(d: datetime | date) -> datetime:
    if not isinstance(d, datetime):
        d = datetime.combine(d, datetime.min.time())
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _table_checks(spec: ContractSpec, lf: pl.LazyFrame, schema: pl.Schema, rows: int,
                  k: int, base_dir: str | Path | None, engine: Engine) -> list[CheckResult]:
    out: list[CheckResult] = []
    bounds = spec.table.rows
    if bounds is not None:
        ok = (bounds.min is None or rows >= bounds.min) and (bounds.max is None
                                                              or rows <= bounds.max)
        out.append(CheckResult("rows", None, bounds.severity, ok, 0 if ok else 1,
                               0.0 if ok else 1.0, [], None if ok else
                               f"{rows} rows, expected {between(bounds.min, bounds.max)}"))
    for key in spec.table.unique:
        out.append(_unique_key(spec, lf, schema, key, rows, k, engine))
    out.extend(_stats_checks(spec, lf, base_dir))
    return out


def _unique_key(spec: ContractSpec, lf: pl.LazyFrame, schema: pl.Schema, key: list[str],
                rows: int, k: int, engine: Engine) -> CheckResult:
    label = ",".join(key)
    missing = [c for c in key if c not in schema]
    if missing:
        return CheckResult("unique_key", label, "error", False, 0, 1.0, [],
                           f"key columns not in the data: {', '.join(missing)}")
    dups = lf.group_by(key).len().filter(pl.col("len") > 1)
    failing = int(dups.select(pl.col("len").sum()).collect(engine=engine).item() or 0)
    if failing == 0:
        return CheckResult("unique_key", label, "error", True)
    pii = {c: spec.columns[c].pii if c in spec.columns else "none" for c in key}
    found = dups.head(k).collect(engine="streaming").to_dicts()
    examples = [{c: mask(to_json_value(r[c]), pii[c]) for c in key} for r in found]
    return CheckResult("unique_key", label, "error", False, failing,
                       failing / rows if rows else 0.0, examples,
                       f"{failing} rows share a ({label}) key with another row")


def _stats_checks(spec: ContractSpec, lf: pl.LazyFrame,
                  base_dir: str | Path | None) -> list[CheckResult]:
    from ._stats import leakage_checks, psi_checks

    out: list[CheckResult] = []
    dist = spec.table.distribution
    if dist is not None:
        ref_path = Path(dist.reference)
        if not ref_path.is_absolute() and base_dir is not None:
            ref_path = Path(base_dir) / ref_path
        ref_lf, ref_textual = scan(ref_path, spec)
        with reading(ref_path):
            if ref_textual:
                ref_lf = _typed(ref_lf, spec, ref_lf.collect_schema())
            out.extend(psi_checks(lf, ref_lf, dist))
    if spec.table.target is not None:
        rule = spec.table.leakage or Leakage(max_auc=0.99)
        features = [c for c in spec.columns if c != spec.table.target]
        out.extend(leakage_checks(lf, spec.table.target, features, rule.max_auc,
                                  severity=rule.severity))
    return out
