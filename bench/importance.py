#!/usr/bin/env python
"""airlock's permutation importance vs ``sklearn.inspection.permutation_importance``.

    python bench/importance.py [--rows N] [--repeats N] [--repeat N] [--json PATH] [--smoke]

One process, one data set: the UCI Adult training split (examples/data), its 14 feature
columns (6 numeric, 8 text), rows drawn with replacement up to ``--rows`` (100,000). One
model, the kind the demo trains: a scikit-learn Pipeline (ordinal encoding of the text
columns, then ``HistGradientBoostingClassifier``), registered with airlock.

Timed, in turn, in the same run: airlock's ``evaluation.permutation_importance`` of the
registered version (``--repeats`` shuffles per feature, roc_auc, no bootstrap: it reads the
data as Arrow, scores it once, then scores only the distinct (row, new value) pairs of all
features, stacked, in few predict calls) and scikit-learn's ``permutation_importance`` of
the same fitted pipeline on the same pandas frame (``scoring="roc_auc"``, ``n_jobs=1``, the
same ``random_state``). Both include scoring the unshuffled data. The importances of every
feature and every repeat must agree to 1e-9 or the benchmark stops (exit 1).
``ratio`` = scikit-learn's seconds / airlock's (target >= 3x). Medians of ``--repeat`` runs.
``--smoke`` runs tiny sizes to prove the benchmark works; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _measure import timed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "adult.data.gz"
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
           "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
           "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
TEXT = ["workclass", "education", "marital_status", "occupation", "relationship", "race",
        "sex", "native_country"]
TARGET_RATIO = 3.0


def _data(rows: int, seed: int) -> Any:
    import polars as pl

    df = pl.read_csv(DATA, has_header=False, new_columns=COLUMNS, infer_schema_length=10_000)
    df = df.with_columns(pl.col(pl.String).str.strip_chars()).drop_nulls()
    df = df.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    idx = np.random.default_rng(seed).integers(0, df.height, rows)
    return df[idx]


def _model(train: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    prep = ColumnTransformer([
        ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), TEXT),
        ("num", "passthrough", NUMERIC)])
    model = Pipeline([("prep", prep), ("gbm", HistGradientBoostingClassifier(
        max_iter=100, random_state=0))])
    X = train.select(NUMERIC + TEXT).to_pandas()
    return model.fit(X, train["income"].to_numpy())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.rows, args.repeats, args.repeat = 2_000, 2, 1
    os.environ["AIRLOCK_HOME"] = tempfile.mkdtemp(prefix="airlock-bench-importance-")
    os.environ.pop("AIRLOCK_STORE_URI", None)
    os.environ.pop("AIRLOCK_ARTIFACT_URI", None)

    from sklearn.inspection import permutation_importance as sklearn_pi

    import airlock
    from airlock.evaluation import permutation_importance as airlock_pi

    df = _data(args.rows, args.seed)
    model = _model(_data(min(args.rows, 20_000), args.seed + 1))
    X = df.select(NUMERIC + TEXT).to_pandas()
    y = df["income"].to_numpy()
    airlock.register_model("bench-importance", model, input_example=X.head(5))
    lm = airlock.load_model("bench-importance@1")

    def ours() -> Any:
        return airlock_pi(lm, df, target="income", task="binary", repeats=args.repeats,
                          seed=args.seed, bootstrap=0)

    def theirs() -> Any:
        return sklearn_pi(model, X, y, scoring="roc_auc", n_repeats=args.repeats,
                          random_state=args.seed, n_jobs=1)

    ours()  # warm: imports, the first predict
    t_ours, mine = timed(ours, args.repeat)
    t_theirs, ref = timed(theirs, args.repeat)
    worst = 0.0
    for i, col in enumerate(X.columns):
        got = np.asarray(mine["features"][col]["repeats"], dtype=np.float64)
        worst = max(worst, float(np.abs(got - ref.importances[i]).max()))
    ratio = t_theirs / t_ours if t_ours > 0 else float("inf")
    out = {"rows": args.rows, "features": len(X.columns), "repeats": args.repeats,
           "airlock_s": t_ours, "sklearn_s": t_theirs, "ratio": ratio,
           "target_ratio": TARGET_RATIO, "max_abs_difference": worst,
           "top": list(mine["features"])[:3], "python": platform.python_version()}
    print(f"permutation importance, {args.rows:,} rows x {len(X.columns)} features x "
          f"{args.repeats} repeats (roc_auc)")
    print(f"  airlock   {t_ours:8.2f} s")
    print(f"  sklearn   {t_theirs:8.2f} s   (n_jobs=1)")
    print(f"  ratio     {ratio:8.2f} x   (target >= {TARGET_RATIO:g}x)")
    print(f"  largest difference of an importance: {worst:.2e}; top: {', '.join(out['top'])}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if worst > 1e-9:
        print("error: airlock's importances differ from scikit-learn's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
