"""`airlock monitor profile | drift` as a user drives them, on Adult: a profile file, drift
against it and against raw data, JSON output, the HTML report, windows, the exit codes
(0 no dataset drift, 1 dataset drift, 2 usage or input error) and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from .test_cli import AIRLOCK, cli, one_line_error

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT.parent / "shared" / "datasets"
# Until `monitor` is registered on the main app, drive the same app through airlock's own
# entry point (same error mapping, same exit codes).
_RUNNER = ("import sys\nfrom airlock.cli import app, main\nfrom airlock.cli import _monitor\n"
           "app.add_typer(_monitor.app, name='monitor')\nsys.exit(main(sys.argv[1:]))\n")


def _registered() -> bool:
    probe = subprocess.run([AIRLOCK, "monitor", "--help"], capture_output=True, text=True,
                           timeout=60, check=False)
    return probe.returncode == 0


REGISTERED = _registered()


def monitor(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    if REGISTERED:
        return cli("monitor", *args, home=home)
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", _RUNNER, "monitor", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture(scope="module")
def adult(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("adult")
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
            "hours_per_week", "native_country", "income"]
    numeric = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss",
               "hours_per_week"]

    def read(name: str) -> pl.DataFrame:
        path = ROOT / "examples" / "data" / f"{name}.gz"  # shipped with the repository
        if not path.exists():
            path = DATASETS / "adult" / name
        if not path.exists():
            pytest.skip(f"{path} is not available")
        df = pl.read_csv(path, has_header=False, new_columns=cols, infer_schema_length=0,
                         skip_rows=1 if name == "adult.test" else 0)
        df = df.with_columns(pl.col(pl.String).str.strip_chars()).filter(pl.col("age") != "")
        return df.with_columns(pl.col(c).cast(pl.Int64) for c in numeric).drop("income")

    ref, cur = read("adult.data"), read("adult.test")
    shifted = cur.with_columns(
        pl.col("age") + 10, pl.col("hours_per_week") + 8, pl.col("fnlwgt") * 3 // 2,
        pl.col("capital_gain") + 500,
        pl.when(pl.col("workclass") == "Private").then(pl.lit("Self-emp-inc"))
        .otherwise(pl.col("workclass")).alias("workclass"),
        pl.when(pl.col("marital_status") == "Never-married").then(pl.lit("Divorced"))
        .otherwise(pl.col("marital_status")).alias("marital_status"),
        pl.when(pl.col("relationship") == "Own-child").then(pl.lit("Husband"))
        .otherwise(pl.col("relationship")).alias("relationship"),
        pl.lit("Other").alias("race"),
    )
    start = datetime(2024, 1, 1)
    stamped = pl.concat([cur.head(6000), shifted.head(6000)]).with_columns(
        pl.Series("ts", [start + timedelta(hours=4 * (i // 1000)) for i in range(12000)]))
    out = {"ref": folder / "ref.parquet", "cur": folder / "cur.parquet",
           "shifted": folder / "shifted.parquet", "stamped": folder / "stamped.parquet",
           "dir": folder}
    ref.write_parquet(out["ref"])
    cur.write_parquet(out["cur"])
    shifted.write_parquet(out["shifted"])
    stamped.write_parquet(out["stamped"])
    return out


def test_profile_then_drift(adult: dict[str, Path], airlock_home: Path) -> None:
    prof = adult["dir"] / "ref.profile"
    res = monitor("profile", str(adult["ref"]), "-o", str(prof), "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["rows"] == 32_561 and len(out["columns"]) == 14
    assert out["bytes"] == prof.stat().st_size <= 1_000_000

    res = monitor("drift", "--reference", str(prof), "--current", str(adult["cur"]), "--json",
                  home=airlock_home)
    assert res.returncode == 0, res.stderr  # adult.test is the same population
    calm = json.loads(res.stdout)
    assert calm["drifted"] is False and calm["drift_share"] < 0.5
    for col in calm["columns"].values():
        assert {"method", "statistic", "p_value", "threshold", "drifted"} <= set(col)

    report = adult["dir"] / "drift.html"
    res = monitor("drift", "-r", str(prof), "-c", str(adult["shifted"]), "--report",
                  str(report), "--json", home=airlock_home)
    assert res.returncode == 1, res.stderr  # dataset drift
    moved = json.loads(res.stdout)
    assert moved["drifted"] is True and moved["drift_share"] >= 0.5
    drifted = {n for n, c in moved["columns"].items() if c["drifted"]}
    assert {"age", "hours_per_week", "workclass", "race", "marital_status"} <= drifted
    assert "education" not in drifted
    html = report.read_text(encoding="utf-8")
    assert "DATASET DRIFT" in html and "http" not in html
    # every drift figure states its reference: JSON, HTML and the table
    assert moved["reference"] == f"profile {prof}" and f"profile {prof}" in html

    # the raw reference gives the same decisions as its profile
    res = monitor("drift", "-r", str(adult["ref"]), "-c", str(adult["shifted"]), "--json",
                  home=airlock_home)
    assert res.returncode == 1
    raw = json.loads(res.stdout)
    assert {n: c["drifted"] for n, c in raw["columns"].items()} == {
        n: c["drifted"] for n, c in moved["columns"].items()}


def test_table_output_options_and_windows(adult: dict[str, Path], airlock_home: Path) -> None:
    res = monitor("drift", "-r", str(adult["ref"]), "-c", str(adult["shifted"]),
                  "--columns", "age,workclass", "--columns", "education", "--num-method", "ks",
                  "--cat-threshold", "0.7", home=airlock_home)
    assert res.returncode == 0, res.stderr  # 1 of 3 drifted: below the 0.5 share
    assert "age" in res.stdout and "ks" in res.stdout
    assert "no dataset drift: 1 of 3 columns drifted" in res.stdout
    assert f"compared with: data {adult['ref']}" in res.stdout.replace("\n", "")
    res = monitor("drift", "-r", str(adult["ref"]), "-c", str(adult["stamped"]), "--json",
                  "--time-column", "ts", "--every", "1d", home=airlock_home)
    out = json.loads(res.stdout)
    assert [w["drifted"] for w in out["windows"]] == [False, True]
    assert out["windows"][0]["window"] == "2024-01-01T00:00:00"


def test_errors_are_one_line_with_exit_2(adult: dict[str, Path], airlock_home: Path) -> None:
    bad = adult["dir"] / "bad.profile"
    bad.write_text('{"format":"airlock.profile","version":7,"rows":1,"columns":{}}')
    cases = [
        (["drift", "-r", str(adult["ref"]), "-c", str(adult["dir"] / "nope.parquet")],
         "no such current data file: "),
        (["drift", "-r", str(bad), "-c", str(adult["cur"])], "profile format version 7"),
        (["drift", "-r", str(adult["ref"]), "-c", str(adult["cur"]), "--method", "magic"],
         "unknown drift method 'magic'"),
        (["drift", "-r", str(adult["ref"]), "-c", str(adult["cur"]), "--columns", "salary"],
         "column 'salary' is not in the reference"),
        (["drift", "-r", str(adult["ref"]), "-c", str(adult["cur"]), "--drift-share", "2"],
         "drift_share must be in (0, 1]"),
        (["drift", "-r", str(adult["ref"])], "Missing option '--current'"),
        (["profile", str(adult["ref"])], "Missing option '--output'"),
    ]
    for args, message in cases:
        line = one_line_error(monitor(*args, home=airlock_home))
        assert message in line, (args, line)


def test_help(airlock_home: Path) -> None:
    for args in (["--help"], ["profile", "--help"], ["drift", "--help"]):
        res = monitor(*args, home=airlock_home)
        assert res.returncode == 0, (args, res.stderr)
    text = " ".join(monitor("drift", "--help", home=airlock_home).stdout.split())
    assert "Exit 0: no dataset drift; 1: dataset drift" in text
