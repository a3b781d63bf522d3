#!/usr/bin/env python
"""airlock contract validation vs Pandera (polars backend) vs hand-written polars.

    python bench/contracts.py [--rows N] [--repeat N] [--json PATH] [--smoke]

One process, one synthetic table of ``--rows`` (5,000,000) rows and 7 columns, and 10
checks expressed the same way in the three tools:

    id     int type, unique            age    not null, range 0..120
    name   not null, length 1..20      hours  range 1..99
    cat    allowed set (8 values)      code   regex ^[A-Z]{2}[0-9]{4}$
    score  float range 0..1

Some rows fail (a few out-of-range ages, unknown categories, bad codes, nulls), so every tool
does its failure reporting too. airlock: ``validate(contract, df)`` on the in-memory polars
DataFrame (one streaming aggregation + examples of failing checks); Pandera 0.35+:
``pandera.polars.DataFrameSchema.validate(df, lazy=True)`` (catching ``SchemaErrors``);
polars: one ``select`` of the 10 failing-row counts. The failing counts of airlock and the
hand-written polars must agree or the benchmark stops. ``ratio`` = Pandera's time /
airlock's (target >= 4x).

Memory: the peak RSS growth of one untimed airlock run, (a) on the in-memory DataFrame and
(b) on the same data as a Parquet file scanned lazily, against the in-memory size of the
checked columns (target <= 1.5x). On Linux the peak is VmHWM after resetting it
(``/proc/self/clear_refs``); elsewhere ``ru_maxrss``.

Every timing is the median of ``--repeat`` runs. ``--smoke`` runs tiny sizes to prove the
benchmark works; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from _measure import measure_memory, timed

TARGET_RATIO = 4.0
TARGET_RSS = 1.5
CATS = ["Private", "Self-emp", "Federal-gov", "Local-gov", "State-gov", "Without-pay",
        "Never-worked", "Unknown"]
CODE = r"^[A-Z]{2}[0-9]{4}$"
CONTRACT = {
    "name": "bench",
    "columns": {
        "id": {"type": "int", "unique": True},
        "age": {"type": "int", "nullable": False, "min": 0, "max": 120},
        "name": {"type": "string", "nullable": False, "min_length": 1, "max_length": 20},
        "hours": {"type": "int", "min": 1, "max": 99},
        "cat": {"type": "category", "allowed": CATS},
        "code": {"type": "string", "regex": CODE},
        "score": {"type": "float", "min": 0, "max": 1},
    },
}


def make_data(rows: int, seed: int = 0) -> pl.DataFrame:
    """Synthetic, vectorised; about 1 row in 1,000 breaks one check or another."""
    i = pl.int_range(rows, dtype=pl.Int64)
    h = (i * 2654435761 + seed) % 1_000_003
    cats = pl.Series(CATS[:-1])
    return pl.select(
        id=i,
        age=pl.when(h % 997 == 0).then(None).when(h % 1009 == 0).then(150)
        .otherwise(17 + h % 70),
        name=pl.format("person{}", h % 100_000),
        hours=1 + h % 99,
        cat=pl.when(h % 1013 == 0).then(pl.lit("Bogus")).otherwise(
            pl.lit(cats).gather(h % 7)),
        code=pl.when(h % 1019 == 0).then(pl.lit("bad")).otherwise(
            pl.format("AB{}", 1000 + h % 9000)),
        score=(h % 10_000) / 10_000.0,
    )


def polars_counts(df: pl.DataFrame) -> dict[str, int]:
    """The hand-written baseline: the 10 failing-row counts in one select."""
    c = pl.col
    out = df.select(
        id_type=pl.lit(0 if df.schema["id"].is_integer() else df.height),
        id_unique=c("id").count() - c("id").drop_nulls().n_unique(),
        age_null=c("age").null_count(),
        age_range=((c("age") < 0) | (c("age") > 120)).sum(),
        name_null=c("name").null_count(),
        name_length=((c("name").str.len_chars() < 1) | (c("name").str.len_chars() > 20)).sum(),
        hours_range=((c("hours") < 1) | (c("hours") > 99)).sum(),
        cat_allowed=(c("cat").is_not_null() & ~c("cat").is_in(CATS)).sum(),
        code_regex=(~c("code").str.contains(CODE)).sum(),
        score_range=((c("score") < 0) | (c("score") > 1)).sum(),
    ).row(0, named=True)
    return {k: int(v) for k, v in out.items()}


def pandera_schema() -> Any:
    import pandera.polars as pa

    return pa.DataFrameSchema({
        "id": pa.Column(pl.Int64, unique=True, nullable=True),
        "age": pa.Column(pl.Int64, pa.Check.in_range(0, 120), nullable=False),
        "name": pa.Column(pl.String, pa.Check.str_length(1, 20), nullable=False),
        "hours": pa.Column(pl.Int64, pa.Check.in_range(1, 99), nullable=True),
        "cat": pa.Column(pl.String, pa.Check.isin(CATS), nullable=True),
        "code": pa.Column(pl.String, pa.Check.str_matches(CODE), nullable=True),
        "score": pa.Column(pl.Float64, pa.Check.in_range(0, 1), nullable=True),
    })


def pandera_validate(schema: Any, df: pl.DataFrame) -> int:
    import pandera.errors

    try:
        schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return len(exc.schema_errors)
    return 0


def airlock_counts(result: Any) -> dict[str, int]:
    names = {("type", "id"): "id_type", ("unique", "id"): "id_unique",
             ("not_null", "age"): "age_null", ("range", "age"): "age_range",
             ("not_null", "name"): "name_null", ("length", "name"): "name_length",
             ("range", "hours"): "hours_range", ("allowed", "cat"): "cat_allowed",
             ("regex", "code"): "code_regex", ("range", "score"): "score_range"}
    return {names[(c.name, c.column)]: c.failing_rows for c in result.checks
            if (c.name, c.column) in names}


def measure_growth(fn: Callable[[], Any]) -> tuple[float, str]:
    """(peak RSS growth in MB during fn, how it was measured)."""
    peak, before, how = measure_memory(fn)
    return max(peak - before, 0.0), how


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=None, help="rows (default 5,000,000)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="median of N runs (default 5; 1 with --smoke)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the figures as JSON to PATH")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, to check the benchmark works (timings meaningless)")
    args = p.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.rows is not None and args.rows < 1000:
        p.error("--rows must be at least 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = args.rows or (20_000 if args.smoke else 5_000_000)
    repeat = args.repeat or (1 if args.smoke else 5)
    import pandera.polars  # noqa: F401  (imported before the RSS baseline)

    from airlock.contracts._model import ContractSpec
    from airlock.contracts._validate import validate

    spec = ContractSpec.model_validate(CONTRACT)
    df = make_data(rows)
    checked = df.estimated_size() / 2**20
    validate(spec, df.head(1000))  # warm-up: thread pools, lazy imports
    mem_growth, how = measure_growth(lambda: validate(spec, df))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.parquet"
        df.write_parquet(path, row_group_size=250_000)
        pq_growth, _ = measure_growth(lambda: validate(spec, path))
        pq_s, _ = timed(lambda: validate(spec, path), repeat)
    ours_s, result = timed(lambda: validate(spec, df), repeat)
    base_s, base = timed(lambda: polars_counts(df), repeat)
    if airlock_counts(result) != base:
        raise SystemExit(f"airlock and polars disagree: {airlock_counts(result)} != {base}")
    schema = pandera_schema()
    theirs_s, n_errors = timed(lambda: pandera_validate(schema, df), repeat)
    ratio = theirs_s / ours_s
    figures = {"rows": rows, "repeat": repeat, "smoke": args.smoke, "airlock_s": ours_s,
               "pandera_s": theirs_s, "polars_s": base_s, "ratio": ratio,
               "airlock_parquet_s": pq_s, "checked_columns_mb": checked,
               "rss_growth_mb": mem_growth, "rss_growth_parquet_mb": pq_growth,
               "rss_measure": how, "failing": base, "pandera_errors": n_errors,
               "python": platform.python_version(), "cpus": os.cpu_count()}
    smoke = " (SMOKE: sizes too small to mean anything)" if args.smoke else ""
    print(f"airlock contracts bench: {rows:,} rows, 10 checks, {sum(base.values()):,} failing "
          f"cells; median of {repeat}{smoke}")
    print(f"case validate: airlock {ours_s:.3f} s | pandera {theirs_s:.3f} s | polars "
          f"{base_s:.3f} s | ratio {ratio:,.1f}x | target >= {TARGET_RATIO:.0f}x | met? "
          f"{verdict(ratio >= TARGET_RATIO)}")
    for label, growth in (("in_memory", mem_growth), ("parquet", pq_growth)):
        factor = growth / checked if checked else 0.0
        print(f"case peak_rss_{label}: airlock +{growth:,.0f} MB | checked columns "
              f"{checked:,.0f} MB | {factor:.2f}x | target <= {TARGET_RSS}x | met? "
              f"{verdict(factor <= TARGET_RSS)}")
    print(f"info airlock on the Parquet file (lazy scan): {pq_s:.3f} s; RSS measured as {how}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
