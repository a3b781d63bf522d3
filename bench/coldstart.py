#!/usr/bin/env python
"""Cold start: seconds from process start to the first prediction, airlock vs MLflow.

    python bench/coldstart.py [--runs N] [--home PATH --model REF --data FILE] [--quick]
                              [--json PATH]

airlock: ``airlock eval MODEL --data FILE --target income --bootstrap 0`` in a fresh
interpreter, timed to the moment it first calls the model (a hook wraps
``LoadedModel.predict_conformed``; nothing else changes). MLflow: a fresh interpreter that
reads the same Parquet file with pandas, calls ``mlflow.pyfunc.load_model`` on the same
pipeline saved as an MLflow model (skops, its types trusted) and is timed as it calls
``predict`` (MLflow's CLI, ``mlflow models predict``, builds an environment first: slower
still). Wall time is measured by this process from just before it starts the child; CPU time
is the child's own, which other work on the machine disturbs less.

The model, unless ``--home`` names a store (e.g. the one ``make demo`` builds, with
``--model adult-income@production --data <a Parquet file of the Adult test split>``): the
demo's boosted trees (ordinal codes into ``HistGradientBoostingClassifier``) fitted on UCI
Adult (examples/data), registered in a temporary store. Each figure is the median of
``--runs`` cold starts, airlock and MLflow alternating. Target (issue 11): airlock starts
scoring within 1.5 s. ``--quick``: 2 runs of a smaller model, to prove the benchmark works.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serve import CATEGORICAL, FEATURES, NUMERIC, load_split, save_mlflow

TARGET_S = 1.5
MODEL = "adult-income"

#: run before ``airlock eval``: print when (and after how much CPU) the model is first asked
AIRLOCK_CHILD = """
import json, sys, time
import airlock.registry._loaded as loaded
from airlock.cli import main
score = loaded.LoadedModel.predict_conformed
def first(self, table):
    loaded.LoadedModel.predict_conformed = score
    print(json.dumps({"at": time.time(), "cpu": time.process_time(),
                      "modules": len(sys.modules)}), flush=True)
    return score(self, table)
loaded.LoadedModel.predict_conformed = first
sys.exit(main(sys.argv[1:]))
"""

MLFLOW_CHILD = """
import json, sys, time
import pandas as pd
df = pd.read_parquet(sys.argv[2]).drop(columns=["income"])
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
print(json.dumps({"at": time.time(), "cpu": time.process_time(),
                  "modules": len(sys.modules)}), flush=True)
model.predict(df)
"""


class BenchError(Exception):
    """The benchmark cannot go on."""


def boosted_trees(quick: bool) -> Any:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    prep = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
         CATEGORICAL),
        ("num", "passthrough", NUMERIC)])
    clf = HistGradientBoostingClassifier(
        max_iter=30 if quick else 300, max_leaf_nodes=31, early_stopping=True,
        n_iter_no_change=20, random_state=42,
        categorical_features=list(range(len(CATEGORICAL))))
    return Pipeline([("prep", prep), ("clf", clf)])


def build(tmp: Path, quick: bool) -> tuple[Path, str, Path, Path]:
    """(store, model ref, test Parquet, MLflow model folder) for the demo's boosted trees."""
    import airlock

    train = load_split("adult.data.gz")
    if quick:
        train = train.head(4000)
    x = train.select(FEATURES).to_pandas()
    pipe = boosted_trees(quick).fit(x, train["income"].to_numpy())
    version = airlock.register_model(MODEL, pipe, input_example=x.head(40))
    airlock.set_alias(f"{MODEL}@{version.version}", "production")
    data = tmp / "adult-test.parquet"
    load_split("adult.test.gz").write_parquet(data)
    return Path(os.environ["AIRLOCK_HOME"]), f"{MODEL}@production", data, \
        save_mlflow(pipe, x, tmp / "mlflow-model")


def mlflow_folder(tmp: Path, home: Path, ref: str) -> Path:
    """The model ``ref`` names in the store ``home``, saved for MLflow (trusted: it is ours)."""
    import airlock

    loaded = airlock.load_model(ref, trusted=True)
    model = getattr(loaded.predictor, "model", None)
    if model is None:
        raise BenchError(f"{ref} is not a scikit-learn model; MLflow's side needs one")
    columns = loaded.input_columns or FEATURES
    return save_mlflow(model, load_split("adult.test.gz").select(columns).head(40).to_pandas(),
                       tmp / "mlflow-model")


def cold(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Start ``argv``; its first stdout line is the JSON the hook printed."""
    started = time.time()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith('{"at"')), None)
    if line is None:
        raise BenchError(f"{argv[2] if len(argv) > 2 else argv} never scored (exit "
                         f"{proc.returncode}): {(proc.stderr or proc.stdout).strip()[-400:]}")
    got = json.loads(line)
    return {"wall_s": got["at"] - started, "cpu_s": got["cpu"], "modules": got["modules"]}


def median(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="airlock-bench-cold-") as name:
        tmp = Path(name)
        if args.home is None:
            os.environ["AIRLOCK_HOME"] = str(tmp / "airlock-home")
            for var in ("AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI"):
                os.environ.pop(var, None)
            home, ref, data, mlflow_dir = build(tmp, args.quick)
        else:
            os.environ["AIRLOCK_HOME"] = str(args.home)
            home, ref, data = args.home, args.model, args.data
            mlflow_dir = mlflow_folder(tmp, home, ref)
        env = {**os.environ, "AIRLOCK_HOME": str(home)}
        sides = {
            "airlock": [sys.executable, "-c", AIRLOCK_CHILD, "eval", ref, "--data", str(data),
                        "--target", "income", "--bootstrap", "0", "--json"],
            "mlflow": [sys.executable, "-c", MLFLOW_CHILD, str(mlflow_dir), str(data)],
        }
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
        for i in range(args.runs):
            for side in (sides if i % 2 == 0 else dict(reversed(sides.items()))):
                runs[side].append(cold(sides[side], env))
    out: dict[str, Any] = {"model": ref, "runs": args.runs, "quick": args.quick, "sides": {}}
    for side, got in runs.items():
        out["sides"][side] = {"wall_s": median(got, "wall_s"), "cpu_s": median(got, "cpu_s"),
                              "modules": median(got, "modules"), "runs": got}
    return out


def report(out: dict[str, Any]) -> None:
    a, m = out["sides"]["airlock"], out["sides"]["mlflow"]
    for label, key in (("wall", "wall_s"), ("cpu", "cpu_s")):
        print(f"case first prediction {label}: airlock {a[key]:.2f} s | mlflow {m[key]:.2f} s "
              f"| ratio {m[key] / a[key]:.1f}x")
    print(f"# modules loaded by then: airlock {a['modules']:,.0f}, mlflow {m['modules']:,.0f}; "
          f"median of {out['runs']} cold starts of {out['model']}")
    met = a["wall_s"] <= TARGET_S
    print(f"target airlock starts scoring within {TARGET_S:g} s: {a['wall_s']:.2f} s "
          f"(cpu {a['cpu_s']:.2f} s): {'PASS' if met else 'MISS'}")
    out["target"] = {"seconds": TARGET_S, "met": met}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=None, help="cold starts per side (default 5)")
    p.add_argument("--home", type=Path, default=None, help="an existing store (AIRLOCK_HOME)")
    p.add_argument("--model", default=None, help="with --home: the model reference")
    p.add_argument("--data", type=Path, default=None, help="with --home: a Parquet file "
                   "with the model's inputs and an income column")
    p.add_argument("--quick", action="store_true", help="2 runs of a smaller model")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the figures")
    args = p.parse_args(argv)
    if (args.home is None) != (args.model is None) or (args.home is None) != (
            args.data is None):
        p.error("--home, --model and --data go together")
    args.runs = args.runs or (2 if args.quick else 5)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    try:
        out = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report(out)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
