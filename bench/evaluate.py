#!/usr/bin/env python
"""airlock evaluation vs Fairlearn's MetricFrame: 1M-row binary task, slices and fairness.

    python bench/evaluate.py [--rows N] [--repeat N] [--boot N] [--json PATH] [--smoke]

One process, one synthetic data set: a logistic model's scores of the positive class, labels
drawn from the true probabilities, three slice columns (5, 9 and 16 values) and two
sensitive columns (sex: 2 values, race: 5), all as string columns like a user's table.

(a) fairness, point estimates: per-group selection rate, TPR, FPR, precision, accuracy and
    support for both sensitive columns. airlock: ``fairness_binary(n_boot=0)`` including the
    encoding of the string column to group codes (polars); Fairlearn: ``MetricFrame`` with
    ``selection_rate``, ``true_positive_rate``, ``false_positive_rate``, ``precision_score``
    and ``accuracy_score``. The per-group values of both must agree to 1e-9 or the
    benchmark stops. ``ratio`` = Fairlearn's time / airlock's time (target >= 50x).
(b) the full evaluation with ``--boot`` (1,000) bootstrap resamples: overall metrics with
    CIs + curves and reliability, the three slices, fairness for sex, race and their
    intersection. Seconds (target <= 15 s) and the peak RSS of the process during a first,
    untimed run (target <= 2 GB), with its increase over the RSS before it (data and
    imports). On Linux the peak is VmHWM after resetting it (``/proc/self/clear_refs``), so
    the data generation's own peak does not hide the evaluation's; elsewhere
    ``ru_maxrss``. (b) runs before (a), so Fairlearn's memory never counts.
(c) ``airlock.evaluate`` end to end, as a user calls it: a registered logistic model (four
    numeric features) scores the rows, then overall metrics and curves, one slice column
    (``region``) and fairness for ``race`` and ``sex`` with their intersection, no bootstrap,
    nothing stored, in a warm process (one untimed run first). Fairlearn: ``MetricFrame``
    with the same five metrics as (a) on the same rows and predictions, sensitive features
    ``race`` and ``sex`` together. The group values must agree. ``ratio`` = Fairlearn's
    time / airlock's (target >= 20x). The machine may be shared: the medians of
    ``--repeat`` runs are printed, and each run times both in turn.
(info) the baseline comparison of the same scope (paired bootstrap of overall + 3 slices
    against a second, noisier model): seconds, no target.

Every timing is the median of ``--repeat`` runs. ``--smoke`` runs tiny sizes to prove the
benchmark works; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _measure import max_rss_mb, measure_memory, timed

Array = np.ndarray[Any, Any]

SLICES = {"region": 5, "segment": 9, "channel": 16}
SENSITIVE = {"sex": ["Female", "Male"],
             "race": ["Amer-Indian", "Asian", "Black", "Other", "White"]}
RACE_SHARES = [0.01, 0.03, 0.10, 0.01, 0.85]
TARGET_RATIO = 50.0
TARGET_EVALUATE_RATIO = 20.0
FEATURES = ["x0", "x1", "x2", "x3"]
TARGET_SECONDS = 15.0
TARGET_RSS_MB = 2048.0


def make_data(rows: int, seed: int = 0) -> dict[str, Any]:
    """Labels from a logistic model, a model's scores, string slice and sensitive columns
    (polars, as airlock reads a table; pandas copies of the sensitive ones for Fairlearn)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    cols: dict[str, Any] = {}
    effects = np.zeros(rows)
    for name, k in SLICES.items():
        codes = rng.integers(0, k, rows)
        cols[name] = np.array([f"{name}-{i:02d}" for i in range(k)])[codes]
        effects += rng.normal(scale=0.3, size=k)[codes]
    sex = rng.integers(0, 2, rows)
    race = rng.choice(5, size=rows, p=RACE_SHARES)
    cols["sex"] = np.array(SENSITIVE["sex"])[sex]
    cols["race"] = np.array(SENSITIVE["race"])[race]
    z = x @ np.array([1.2, -0.8, 0.5, 0.3]) + effects + 0.4 * sex - 0.2 * (race == 2) - 1.0
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.int8)
    score = 1.0 / (1.0 + np.exp(-(z + rng.normal(scale=0.5, size=rows))))
    baseline = 1.0 / (1.0 + np.exp(-(z + rng.normal(scale=0.8, size=rows))))
    columns = {name: pl.Series(name, values) for name, values in cols.items()}
    columns.update({f: pl.Series(f, x[:, i]) for i, f in enumerate(FEATURES)})
    return {"y": y, "score": score, "baseline": baseline, "columns": columns,
            "pandas": {f: columns[f].to_pandas() for f in SENSITIVE}}


def encode(s: Any) -> tuple[Array, list[str]]:
    """Group codes 0..G-1 of a polars string column, labels sorted (vectorised)."""
    import polars as pl

    labels = s.unique().sort().to_list()
    codes = s.cast(pl.Enum(labels)).to_physical().to_numpy().astype(np.int64)
    return codes, [str(v) for v in labels]


# -- (a) fairness: airlock vs MetricFrame -----------------------------------------------

def airlock_fairness(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from airlock.evaluation._fairness import fairness_binary
    from airlock.evaluation._types import Target

    t = Target(y=data["y"], pred=data["score"])
    out = {}
    for feature in SENSITIVE:
        codes, labels = encode(data["columns"][feature])
        out[feature] = fairness_binary(t, 0.5, codes, len(labels), labels, n_boot=0)
    return out


def _fairlearn_metrics() -> dict[str, Any]:
    """The five metrics both Fairlearn cases compute (selection rate, TPR, FPR, precision,
    accuracy)."""
    from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score, precision_score

    return {"selection_rate": selection_rate, "tpr": true_positive_rate,
            "fpr": false_positive_rate, "precision": precision_score,
            "accuracy": accuracy_score}


def fairlearn_fairness(data: dict[str, Any]) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame

    metrics = _fairlearn_metrics()
    yhat = (data["score"] >= 0.5).astype(np.int8)
    return {feature: MetricFrame(metrics=metrics, y_true=data["y"], y_pred=yhat,
                                 sensitive_features=data["pandas"][feature]).by_group
            for feature in SENSITIVE}


def check_same(ours: dict[str, dict[str, Any]], theirs: dict[str, Any]) -> None:
    """A wrong answer stops the benchmark: per-group values must agree to 1e-9."""
    for feature, frame in theirs.items():
        if sorted(ours[feature]["by_group"]) != sorted(str(g) for g in frame.index):
            raise SystemExit(f"wrong answer: groups of {feature} differ")
        for group, row in frame.iterrows():
            mine = ours[feature]["by_group"][str(group)]
            for metric, value in row.items():
                if abs(float(mine[str(metric)]) - float(value)) > 1e-9:
                    raise SystemExit(f"wrong answer: {feature}={group} {metric}: airlock "
                                     f"{mine[str(metric)]} vs fairlearn {value}")


# -- (b) the full evaluation ------------------------------------------------------------

def full_evaluation(data: dict[str, Any], n_boot: int) -> dict[str, Any]:
    from airlock.evaluation._binary import BinaryTask
    from airlock.evaluation._fairness import fairness_binary, intersect
    from airlock.evaluation._types import Target

    t = Target(y=data["y"], pred=data["score"])
    task = BinaryTask(threshold=0.5)
    boot = {"n_boot": n_boot, "seed": 0, "confidence": 0.95}
    zeros = np.zeros(t.n, dtype=np.int64)
    out: dict[str, Any] = {"overall": task.grouped(t, zeros, 1, **boot)[0],
                           "extras": task.extras(t), "slices": {}, "fairness": {}}
    for name in SLICES:
        codes, labels = encode(data["columns"][name])
        out["slices"][name] = dict(zip(labels, task.grouped(t, codes, len(labels), **boot),
                                       strict=True))
    groups = {f: encode(data["columns"][f]) for f in SENSITIVE}
    groups["sex & race"] = intersect(*groups["sex"], *groups["race"])
    for feature, (codes, labels) in groups.items():
        out["fairness"][feature] = fairness_binary(t, 0.5, codes, len(labels), labels, **boot)
    return out


def baseline_comparison(data: dict[str, Any], n_boot: int) -> None:
    from airlock.evaluation._binary import BinaryTask
    from airlock.evaluation._types import Target

    cand, base = Target(y=data["y"], pred=data["score"]), Target(y=data["y"],
                                                                 pred=data["baseline"])
    task = BinaryTask(threshold=0.5)
    task.paired(cand, base, np.zeros(cand.n, dtype=np.int64), 1, n_boot=n_boot, seed=0)
    for name in SLICES:
        codes, labels = encode(data["columns"][name])
        task.paired(cand, base, codes, len(labels), n_boot=n_boot, seed=0)


# -- (c) airlock.evaluate end to end vs MetricFrame --------------------------------------

def evaluate_setup(data: dict[str, Any], home: str) -> tuple[Any, Any, Any]:
    """A store in ``home``, a logistic model registered in it, the table and the model's
    predictions (for Fairlearn)."""
    import polars as pl
    from sklearn.linear_model import LogisticRegression

    os.environ["AIRLOCK_HOME"] = home
    import airlock

    table = pl.DataFrame({**{f: data["columns"][f] for f in FEATURES},
                          "region": data["columns"]["region"], "race": data["columns"]["race"],
                          "sex": data["columns"]["sex"], "y": data["y"].astype(np.int64)})
    features = table.select(FEATURES).to_pandas()
    model = LogisticRegression().fit(features.head(20_000), data["y"][:20_000])
    version = airlock.register_model("bench-evaluate", model,
                                     input_example=table.select(FEATURES).head(3))
    yhat = (model.predict_proba(features)[:, 1] >= 0.5).astype(np.int8)
    return version.ref, table, yhat


def airlock_evaluate(ref: str, table: Any) -> dict[str, Any]:
    import airlock

    return airlock.evaluate(ref, table, target="y", slices=["region"],
                            sensitive=["race", "sex"], bootstrap=0, store=False).result


def fairlearn_evaluate(data: dict[str, Any], yhat: Array) -> Any:
    import pandas as pd
    from fairlearn.metrics import MetricFrame

    metrics = _fairlearn_metrics()
    sensitive = pd.DataFrame({"race": data["pandas"]["race"], "sex": data["pandas"]["sex"]})
    return MetricFrame(metrics=metrics, y_true=data["y"], y_pred=yhat,
                       sensitive_features=sensitive).by_group


def check_same_evaluate(ours: dict[str, Any], theirs: Any) -> None:
    groups = ours["fairness"]["race & sex"]["by_group"]
    for (race, sex), row in theirs.iterrows():
        mine = groups[f"{race} & {sex}"]
        for metric, value in row.items():
            if abs(float(mine[str(metric)] or 0.0) - float(value)) > 1e-9:
                raise SystemExit(f"wrong answer: {race} & {sex} {metric}: airlock "
                                 f"{mine[str(metric)]} vs fairlearn {value}")


def compare_evaluate(data: dict[str, Any], repeat: int) -> tuple[list[float], list[float]]:
    """Seconds of each run of airlock.evaluate and of MetricFrame, alternating."""
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as home:
        ref, table, yhat = evaluate_setup(data, home)
        ours = airlock_evaluate(ref, table)  # warm: imports, model load, first run
        check_same_evaluate(ours, fairlearn_evaluate(data, yhat))
        mine, theirs = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            airlock_evaluate(ref, table)
            mine.append(time.perf_counter() - start)
            start = time.perf_counter()
            fairlearn_evaluate(data, yhat)
            theirs.append(time.perf_counter() - start)
    return mine, theirs


# -- measuring --------------------------------------------------------------------------



def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=None, help="rows (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="median of N runs (default 3; 1 with --smoke)")
    p.add_argument("--boot", type=int, default=None, help="bootstrap resamples (1,000)")
    p.add_argument("--json", type=Path, default=None, metavar="PATH",
                   help="also write the figures as JSON to PATH")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, to check the benchmark works (timings meaningless)")
    args = p.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.rows is not None and args.rows < 100:
        p.error("--rows must be at least 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = args.rows or (20_000 if args.smoke else 1_000_000)
    repeat = args.repeat or (1 if args.smoke else 3)
    n_boot = args.boot if args.boot is not None else (100 if args.smoke else 1000)
    import fairlearn  # noqa: F401  (imported before the baseline RSS: not airlock's memory)
    import polars  # noqa: F401
    import sklearn.metrics  # noqa: F401

    import airlock.evaluation._binary  # noqa: F401

    data = make_data(rows)
    peak_rss, base_rss, how = measure_memory(lambda: full_evaluation(data, n_boot))
    full_s, result = timed(lambda: full_evaluation(data, n_boot), repeat)
    json.dumps(result, allow_nan=False)  # the evaluation is JSON as it stands
    paired_s, _ = timed(lambda: baseline_comparison(data, n_boot), repeat)
    ours_s, ours = timed(lambda: airlock_fairness(data), repeat)
    theirs_s, theirs = timed(lambda: fairlearn_fairness(data), repeat)
    check_same(ours, theirs)
    ratio = theirs_s / ours_s
    import statistics

    eval_runs, frame_runs = compare_evaluate(data, repeat)
    eval_s, frame_s = statistics.median(eval_runs), statistics.median(frame_runs)
    eval_ratio = frame_s / eval_s
    figures = {"rows": rows, "repeat": repeat, "n_boot": n_boot, "smoke": args.smoke,
               "fairness_airlock_s": ours_s, "fairness_fairlearn_s": theirs_s,
               "fairness_ratio": ratio, "full_evaluation_s": full_s,
               "peak_rss_mb": peak_rss, "baseline_rss_mb": base_rss,
               "rss_increase_mb": peak_rss - base_rss, "rss_measure": how,
               "ru_maxrss_mb": max_rss_mb(), "baseline_comparison_s": paired_s,
               "evaluate_airlock_s": eval_s, "evaluate_fairlearn_s": frame_s,
               "evaluate_ratio": eval_ratio, "evaluate_airlock_runs_s": eval_runs,
               "evaluate_fairlearn_runs_s": frame_runs,
               "python": platform.python_version(), "cpus": os.cpu_count()}
    smoke = " (SMOKE: sizes too small to mean anything)" if args.smoke else ""
    print(f"airlock evaluation bench: {rows:,} rows, {len(SLICES)} slices, "
          f"{len(SENSITIVE)} sensitive columns, {n_boot} resamples; median of {repeat}{smoke}")
    print(f"case fairness: airlock {ours_s:.3f} s | fairlearn {theirs_s:.3f} s | "
          f"ratio {ratio:,.1f}x | target >= {TARGET_RATIO:.0f}x | met? "
          f"{verdict(ratio >= TARGET_RATIO)}")
    print(f"case evaluate: airlock {eval_s:.3f} s | fairlearn {frame_s:.3f} s | "
          f"ratio {eval_ratio:,.1f}x | target >= {TARGET_EVALUATE_RATIO:.0f}x | met? "
          f"{verdict(eval_ratio >= TARGET_EVALUATE_RATIO)}")
    print(f"info evaluate runs (s): airlock {', '.join(f'{t:.3f}' for t in eval_runs)} | "
          f"fairlearn {', '.join(f'{t:.3f}' for t in frame_runs)} (shared machine: noisy)")
    print(f"case full_evaluation: airlock {full_s:.2f} s | target <= {TARGET_SECONDS:.0f} s | "
          f"met? {verdict(full_s <= TARGET_SECONDS)}")
    print(f"case peak_rss: airlock {peak_rss:,.0f} MB (+{peak_rss - base_rss:,.0f} MB over "
          f"{base_rss:,.0f} MB before) | target <= {TARGET_RSS_MB:,.0f} MB | met? "
          f"{verdict(peak_rss <= TARGET_RSS_MB)}")
    print(f"info peak_rss measured as {how} (process ru_maxrss now, data generation "
          f"included: {max_rss_mb():,.0f} MB)")
    print(f"info baseline_comparison (paired, overall + {len(SLICES)} slices): "
          f"airlock {paired_s:.2f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
