"""Column and table checks as polars expressions.

Every row-level check is a boolean "this row fails" expression; :func:`column_checks`
turns a :class:`ColumnSpec` into :class:`Check` objects whose ``agg`` expressions (a count
of failing rows, or a statistic for a judge) are evaluated together in one streaming
aggregation by :mod:`._validate`. Examples are fetched afterwards, only for failing checks,
with a lazy filter + head.

Text that arrives untyped (CSV) is read as strings and parsed here: ``typed`` is the parsed
value (``null`` when the text does not parse), ``raw`` the text as read; the ``type`` check
counts rows where the text is present but does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from ._model import ColumnSpec
from ._result import CheckResult

__all__ = ["Check", "between", "column_checks", "dtype_matches", "mask", "parse_expr", "raw_name",
           "to_json_value"]

RAW_PREFIX = "__airlock_raw__"
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_TEXT = ("string", "category")

Judge = Callable[[Any, int], tuple[int, bool, str | None]]


@dataclass(frozen=True)
class Check:
    """One check: ``agg`` is computed in the shared aggregation; ``judge(value, rows)`` turns
    it into (failing_rows, passed, detail); ``fails`` selects failing rows for examples."""

    name: str
    column: str | None
    severity: str
    agg: pl.Expr | None = None
    judge: Judge | None = None
    fails: pl.Expr | None = None
    shown: pl.Expr | None = None
    pii: str = "none"
    decided: CheckResult | None = None
    duplicates_of: str | None = None  # examples are duplicated values of this column
    per_row: bool = True  # False: a table check whose failing_fraction is 0 or 1


def raw_name(column: str) -> str:
    return RAW_PREFIX + column


def parse_expr(column: str, type_: str) -> pl.Expr:
    """The text column parsed as the declared type; text that does not parse becomes null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    if type_ == "int":
        return text.cast(pl.Int64, strict=False)
    if type_ == "float":
        return text.cast(pl.Float64, strict=False)
    if type_ == "bool":
        low = text.str.to_lowercase()
        return (pl.when(low.is_in(_TRUE)).then(pl.lit(True))
                .when(low.is_in(_FALSE)).then(pl.lit(False))
                .otherwise(pl.lit(None, dtype=pl.Boolean)))
    if type_ == "date":
        return text.str.to_date(strict=False)
    if type_ == "datetime":
        return text.str.to_datetime(strict=False, time_unit="us")
    return pl.col(column).cast(pl.String)


def dtype_matches(dtype: pl.DataType, type_: str) -> bool:
    """Whether a physical (Parquet, Arrow, in-memory) dtype holds the declared type."""
    if type_ == "int":
        return dtype.is_integer()
    if type_ == "float":
        return dtype.is_float() or dtype.is_integer()
    if type_ in _TEXT:
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if type_ == "bool":
        return dtype == pl.Boolean
    if type_ == "date":
        return dtype == pl.Date
    return isinstance(dtype, pl.Datetime)


def between(lo: Any, hi: Any) -> str:
    """'in [17, 90]', 'at least 17' or 'at most 90', numbers written as people write them."""
    def plain(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) and abs(v) < 1e15 else str(v)
    if lo is not None and hi is not None:
        return f"in [{plain(lo)}, {plain(hi)}]"
    return f"at least {plain(lo)}" if lo is not None else f"at most {plain(hi)}"


def _count_judge(what: str) -> Judge:
    """Failing rows counted; the detail says what ``what`` (of the failing values) is."""
    def judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
        n = int(value or 0)
        return n, n == 0, f"values {what}" if n else None
    return judge


def _fraction_judge(limit: float) -> Judge:
    def judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
        n = int(value or 0)
        frac = n / rows if rows else 0.0
        return n, frac <= limit, f"null fraction {frac:.4g}, at most {limit:g} allowed"
    return judge


def _bound(value: float | str, type_: str) -> Any:
    """A min/max bound as a literal comparable with the column's values."""
    if type_ == "date":
        return date.fromisoformat(str(value)[:10])
    if type_ == "datetime":
        if isinstance(value, int | float):
            raise ValueError("a datetime bound must be an ISO date or datetime")
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    if type_ in _TEXT:
        return str(value)
    if isinstance(value, str):
        return float(value)
    return value


def column_checks(name: str, spec: ColumnSpec, *, type_check: tuple[pl.Expr, pl.Expr] | None,
                  type_failure: str | None) -> list[Check]:
    """Every check of one present column. ``type_check`` is (row-fails, value shown) for
    values that must be parsed or verified row by row; ``type_failure`` a detail when the
    physical dtype is wrong (the value checks are then skipped, the null checks kept)."""
    sev, col = spec.severity, pl.col(name)
    base: dict[str, Any] = {"column": name, "severity": sev, "pii": spec.pii}
    checks: list[Check] = []
    if type_check is not None:
        fails, shown = type_check
        checks.append(Check("type", agg=fails.sum(), judge=_count_judge(
            f"present but not a valid {spec.type}"), fails=fails, shown=shown, **base))
    elif type_failure is not None:
        checks.append(Check("type", decided=CheckResult(
            "type", name, sev, False, 0, 1.0, [], type_failure), **base))
    else:
        checks.append(Check("type", decided=CheckResult("type", name, sev, True), **base))
    if not spec.nullable:
        checks.append(Check("not_null", agg=col.null_count(),
                            judge=_count_judge("null in a column that is not nullable"), **base))
    if spec.max_null_fraction is not None:
        checks.append(Check("max_null_fraction", agg=col.null_count(),
                            judge=_fraction_judge(spec.max_null_fraction), **base))
    if type_failure is None:
        checks.extend(_value_checks(name, spec, base))
    return checks


def _row_check(check: str, fails: pl.Expr, shown: pl.Expr, base: dict[str, Any],
               detail: str | None = None) -> Check:
    def judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
        n = int(value or 0)
        return n, n == 0, detail
    # sum() skips nulls and filter() drops them: a null value never fails a value check
    return Check(check, agg=fails.sum(), judge=judge, fails=fails, shown=shown, **base)


def _value_checks(name: str, spec: ColumnSpec, base: dict[str, Any]) -> list[Check]:
    col = pl.col(name)
    text = col.cast(pl.String) if spec.type in _TEXT else col
    out: list[Check] = []
    if spec.min is not None or spec.max is not None:
        lo = None if spec.min is None else _bound(spec.min, spec.type)
        hi = None if spec.max is None else _bound(spec.max, spec.type)
        parts = ([] if lo is None else [text < pl.lit(lo)]) + (
            [] if hi is None else [text > pl.lit(hi)])
        out.append(_row_check("range", _any(parts), text, base,
                              f"expected values {between(spec.min, spec.max)}"))
    if spec.allowed is not None:
        allowed = [str(v) for v in spec.allowed] if spec.type in _TEXT else spec.allowed
        out.append(_row_check("allowed", text.is_not_null() & ~text.is_in(allowed), text, base,
                              f"expected one of {len(allowed)} allowed values"))
    if spec.regex is not None:
        out.append(_row_check("regex", ~text.str.contains(spec.regex), text, base,
                              f"expected values matching {spec.regex!r}"))
    if spec.min_length is not None or spec.max_length is not None:
        n = text.str.len_chars()
        parts = ([] if spec.min_length is None else [n < spec.min_length]) + (
            [] if spec.max_length is None else [n > spec.max_length])
        out.append(_row_check("length", _any(parts), text, base,
                              f"expected length {between(spec.min_length, spec.max_length)}"))
    if spec.unique:
        out.append(Check("unique", agg=col.count() - col.drop_nulls().n_unique(),
                         judge=_unique_judge, duplicates_of=name, **base))
    return out


def _any(parts: list[pl.Expr]) -> pl.Expr:
    out = parts[0]
    for p in parts[1:]:
        out = out | p
    return out


def _unique_judge(value: Any, rows: int) -> tuple[int, bool, str | None]:
    n = int(value or 0)
    return n, n == 0, f"{n} rows repeat a value seen earlier" if n else None


# --- examples: JSON-safe and masked -------------------------------------------------------

def to_json_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, date | datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): to_json_value(x) for k, x in v.items()}
    return str(v)


_WORD = re.compile(r"\S+")


def _mask_word(word: str) -> str:
    return word[:1] + "***"


def mask(value: Any, pii: str) -> Any:
    """A failing value of a PII-tagged column with its shape kept and its content hidden:
    ``john@example.com`` → ``j***@e***.com``, ``John Smith`` → ``J*** S***``, else ``***``."""
    if pii == "none" or value is None or isinstance(value, dict):
        return value
    text = str(value)
    if pii == "email" and "@" in text:
        local, _, domain = text.partition("@")
        host, dot, tld = domain.rpartition(".")
        masked_domain = f"{_mask_word(host)}{dot}{tld}" if dot else _mask_word(domain)
        return f"{_mask_word(local)}@{masked_domain}"
    if pii in ("name", "address"):
        return _WORD.sub(lambda m: _mask_word(m.group(0)), text)
    return "***"
