"""Drift decisions agree with Evidently's DataDriftPreset on the same Parquet files and the same
column types: UCI Adult (reference adult.data; current adult.test and a deliberately shifted
copy: age + 10, hours + 8, a changed category mix), and a small sample where Evidently picks KS,
chi-square and z.

Evidently 0.7 does not import with pandas 3 (airlock's), so it runs in its own virtualenv,
``.venv-evidently`` at the repository root, which this test creates when it is missing
(``pip install "evidently==0.7.*" "pandas<3" pyarrow``; skipped with the reason when pip
cannot reach the index). The Evidently side is bench/drift.py's worker, run with that
interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from airlock.monitor import DriftMonitor

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-evidently"
PYTHON = Path(os.environ.get("AIRLOCK_EVIDENTLY_PYTHON", VENV / "bin" / "python"))
BENCH = ROOT / "bench" / "drift.py"
DATASETS = ROOT.parent / "shared" / "datasets"
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
           "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
           "hours_per_week", "native_country", "income"]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]

pytestmark = pytest.mark.slow


def _skip(reason: str) -> None:
    print(f"skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def evidently_python() -> Path:
    """The interpreter of .venv-evidently, created on first use."""
    if PYTHON.exists():
        return PYTHON
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300,
                       capture_output=True, text=True)
        pip = subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                              "evidently==0.7.*", "pandas<3", "pyarrow"],
                             capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        _skip(f"cannot create {VENV}: {exc}")
    if pip.returncode != 0:
        _skip("pip could not install evidently 0.7 into .venv-evidently: "
              + (pip.stderr.strip().splitlines() or ["no output"])[-1])
    return PYTHON


def evidently_decisions(python: Path, ref: Path, cur: Path,
                        spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([str(python), str(BENCH), "--worker", "evidently", str(ref), str(cur),
                           "--spec", json.dumps(spec)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def read_adult(name: str) -> pl.DataFrame:
    path = ROOT / "examples" / "data" / f"{name}.gz"  # shipped with the repository
    if not path.exists():
        path = DATASETS / "adult" / name
    if not path.exists():
        _skip(f"{path} is not available")
    df = pl.read_csv(path, has_header=False, new_columns=COLUMNS, infer_schema_length=0,
                     skip_rows=1 if name == "adult.test" else 0)
    df = df.with_columns(pl.col(pl.String).str.strip_chars()).filter(pl.col("age") != "")
    text = [c for c in COLUMNS if c not in NUMERIC]
    return df.with_columns(
        *[pl.col(c).cast(pl.Int64) for c in NUMERIC],
        *[pl.when(pl.col(c) == "?").then(None).otherwise(pl.col(c)).alias(c) for c in text])


def _compare(python: Path, ref: Path, cur: Path) -> tuple[dict[str, bool], dict[str, Any]]:
    ours = DriftMonitor(numerical=NUMERIC).fit(ref).score(cur)
    spec = {"numerical": [c for c, d in ours.columns.items() if d.kind == "numerical"],
            "categorical": [c for c, d in ours.columns.items() if d.kind == "categorical"],
            "drift_share": 0.5}
    theirs = evidently_decisions(python, ref, cur, spec)
    assert set(theirs["columns"]) == set(ours.columns)
    for name, col in ours.columns.items():
        other = theirs["columns"][name]
        assert col.drifted == other["drifted"], (name, col.to_dict(distribution=False), other)
        # the same statistic where both report a distance (p-values are compared by decision)
        if col.method in ("wasserstein", "jensenshannon") and col.statistic is not None:
            assert col.statistic == pytest.approx(other["statistic"], rel=1e-6), name
    assert ours.drift_share == pytest.approx(theirs["drift_share"])
    return {n: c.drifted for n, c in ours.columns.items()}, theirs


def test_adult_decisions_agree_with_evidently(evidently_python: Path, tmp_path: Path) -> None:
    reference, current = read_adult("adult.data"), read_adult("adult.test")
    shifted = current.with_columns(
        pl.col("age") + 10, pl.col("hours_per_week") + 8,
        pl.when(pl.col("workclass") == "Private").then(pl.lit("Self-emp-inc"))
        .otherwise(pl.col("workclass")).alias("workclass"),
        pl.when(pl.col("marital_status") == "Never-married").then(pl.lit("Divorced"))
        .otherwise(pl.col("marital_status")).alias("marital_status"))
    paths = {}
    for name, frame in (("ref", reference), ("test", current), ("shifted", shifted)):
        paths[name] = tmp_path / f"{name}.parquet"
        frame.write_parquet(paths[name])
    calm, _ = _compare(evidently_python, paths["ref"], paths["test"])
    moved, theirs = _compare(evidently_python, paths["ref"], paths["shifted"])
    assert calm["income"]  # adult.test labels end with '.': new categories on both sides
    assert not calm["age"] and moved["age"] and moved["workclass"] and moved["hours_per_week"]
    assert theirs["version"].startswith("0.7")


def test_small_data_tests_agree_with_evidently(evidently_python: Path, tmp_path: Path) -> None:
    """<= 1000 reference rows: KS, chi-square and z-test p-values decide."""
    reference = read_adult("adult.data").head(900)
    current = read_adult("adult.test").slice(0, 700).with_columns(
        (pl.col("hours_per_week") + 3), pl.col("capital_gain"))
    odd = read_adult("adult.test").slice(700, 700)
    paths = {}
    for name, frame in (("ref", reference), ("cur", current), ("odd", odd)):
        paths[name] = tmp_path / f"{name}.parquet"
        frame.write_parquet(paths[name])
    for cur in ("cur", "odd"):
        _, theirs = _compare(evidently_python, paths["ref"], paths[cur])
        methods = {c["method"] for c in theirs["columns"].values()}
        assert {"K-S p_value", "chi-square p_value", "Z-test p_value"} <= methods
    ours = DriftMonitor(numerical=NUMERIC).fit(paths["ref"]).score(paths["cur"])
    assert {c.method for c in ours.columns.values()} >= {"ks", "chisquare", "z"}
