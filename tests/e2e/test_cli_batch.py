"""`airlock batch score | status` as a user drives them: the JSON the issue names, the
summary, exit 1 on too many rejects, every bad input as one line with exit 2 and nothing
written, and the profile and prediction log that `airlock monitor` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.batch_helpers import (
    FEATURES,
    assert_exactly_once,
    frame,
    register,
    write_inputs,
)

from .test_cli import cli, one_line_error


@pytest.fixture
def model(airlock_home: Path) -> str:
    ref = register("income")
    from airlock.store import close_stores

    close_stores()
    return ref


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    write_inputs(tmp_path / "events", files=3, rows=2000, nan_every=400)
    return tmp_path / "events"


def test_help(airlock_home: Path) -> None:
    for args in (["batch", "--help"], ["batch", "score", "--help"],
                 ["batch", "status", "--help"]):
        res = cli(*args, home=airlock_home)
        assert res.returncode == 0, res.stderr
        assert "Usage:" in res.stdout
    assert "batch" in cli("--help", home=airlock_home).stdout


def test_score_json_summary_and_status(model: str, inputs: Path, tmp_path: Path,
                                       airlock_home: Path) -> None:
    out = tmp_path / "scores"
    res = cli("batch", "score", model, "--input", str(inputs), "--output", str(out),
              "--keep", "id,day", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {"job_id", "run_id", "rows", "rejected", "fragments", "rows_per_s",
            "output"} <= set(doc)
    assert doc["fragments"] == {"done": 3, "failed": 0, "skipped": 0}
    assert (doc["rows"], doc["rejected"]) == (5985, 15) and doc["output"] == str(out)
    assert doc["rows_per_s"] > 0
    assert_exactly_once(out, 6000)

    res = cli("batch", "score", model, "--input", str(inputs), "--output", str(out),
              "--keep", "id,day", home=airlock_home)  # the same command again: nothing to do
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"job {doc['job_id']}: {model} on local, FINISHED"
    assert lines[1] == "fragments: 0 scored, 3 already done, 0 failed"
    assert lines[2].startswith("rows: 5,985 scored, 15 rejected (0.25 %);")
    assert all(len(line) <= 80 for line in lines if str(tmp_path) not in line)

    res = cli("batch", "status", doc["job_id"], "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    status = json.loads(res.stdout)
    assert status["fragments"] == {"total": 3, "done": 3, "pending": 0, "failed": 0}
    assert (status["rows"], status["rejected"]) == (5985, 15)
    res = cli("batch", "status", doc["job_id"], home=airlock_home)
    assert res.returncode == 0
    assert "fragments: 3 in all, 3 done, 0 pending, 0 failed" in res.stdout


def test_too_many_rejects_exit_1(model: str, inputs: Path, tmp_path: Path,
                                 airlock_home: Path) -> None:
    res = cli("batch", "score", model, "--input", str(inputs), "--output",
              str(tmp_path / "out"), "--max-reject-rate", "0.001", home=airlock_home)
    assert res.returncode == 1, res.stderr
    assert "reject rate 0.25 % is over --max-reject-rate 0.1 %" in res.stdout
    assert "FAILED" in res.stdout.splitlines()[0]
    ok = cli("batch", "score", model, "--input", str(inputs), "--output",
             str(tmp_path / "out"), "--max-reject-rate", "0.01", "--json", home=airlock_home)
    assert ok.returncode == 0 and json.loads(ok.stdout)["fragments"]["skipped"] == 3


def _nothing_written(home: Path, out: Path) -> None:
    assert not out.exists() or not any(out.iterdir())
    import sqlalchemy as sa

    from airlock.store import close_stores, get_store

    close_stores()
    with get_store().engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM batch_jobs")).scalar() == 0


@pytest.mark.parametrize("case", ["unknown model", "unknown alias", "no match", "unreadable",
                                  "not writable", "unknown engine", "bad batch size"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case: str, model: str, inputs: Path,
                                                          tmp_path: Path,
                                                          airlock_home: Path) -> None:
    out = tmp_path / "out"
    args = {"input": str(inputs), "output": str(out), "model": model, "extra": []}
    expected = {
        "unknown model": "error: model not found: nobody",
        "unknown alias": "error: alias not found: income@production",
        "no match": f"error: no file matches {inputs}/*.csv",
        "unreadable": "error: cannot read {bad}: not a Parquet file (no Parquet footer)",
        "not writable": "error: cannot write {out}: not a directory",
        "unknown engine": "error: unknown engine 'dask': use one of local, ray, spark",
        "bad batch size": "error: --batch-size must be a positive number of rows, got 0",
    }[case]
    if case == "unknown model":
        args["model"] = "nobody"
    elif case == "unknown alias":
        args["model"] = "income@production"
    elif case == "no match":
        args["input"] = f"{inputs}/*.csv"
    elif case == "unreadable":
        bad = inputs / "day=2026-12-01" / "broken.parquet"
        bad.write_bytes(b"PAR1" + os.urandom(3000))
        expected = expected.format(bad=bad)
    elif case == "not writable":
        (tmp_path / "a-file").write_text("x")
        out = tmp_path / "a-file" / "out"
        args["output"] = str(out)
        expected = expected.format(out=out)
    elif case == "unknown engine":
        args["extra"] = ["--engine", "dask"]
    else:
        args["extra"] = ["--batch-size", "0"]
    res = cli("batch", "score", str(args["model"]), "--input", str(args["input"]),
              "--output", str(args["output"]), *args["extra"], home=airlock_home)
    line = one_line_error(res)
    assert line == expected, line
    _nothing_written(airlock_home, out)


@pytest.mark.parametrize("engine,extra", [("ray", "ray"), ("spark", "spark")])
def test_a_missing_engine_extra_names_the_pip_command(engine: str, extra: str, model: str,
                                                      inputs: Path, tmp_path: Path,
                                                      airlock_home: Path) -> None:
    code = ("import sys; sys.modules[sys.argv[1]] = None\n"
            "from airlock.cli import main; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "AIRLOCK_HOME": str(airlock_home)}
    res = subprocess.run([sys.executable, "-c", code, "pyspark" if engine == "spark" else "ray",
                          "batch", "score", model, "--input", str(inputs), "--output",
                          str(tmp_path / "out"), "--engine", engine], capture_output=True,
                         text=True, env=env, timeout=120, check=False)
    line = one_line_error(res)
    assert line.endswith(f"pip install 'airlock[{extra}]'"), line
    _nothing_written(airlock_home, tmp_path / "out")


def test_another_version_into_the_same_output(model: str, inputs: Path, tmp_path: Path,
                                              airlock_home: Path) -> None:
    out = tmp_path / "out"
    assert cli("batch", "score", model, "-i", str(inputs), "-o", str(out),
               home=airlock_home).returncode == 0
    newer = register("income", seed=3)
    from airlock.store import close_stores

    close_stores()
    before = sorted(p.name for p in out.iterdir())
    res = cli("batch", "score", newer, "-i", str(inputs), "-o", str(out), home=airlock_home)
    assert one_line_error(res) == (f"error: {out} already holds the output of {model}: score "
                                   "into another folder, or pass --overwrite to replace it")
    assert sorted(p.name for p in out.iterdir()) == before
    res = cli("batch", "score", newer, "-i", str(inputs), "-o", str(out), "--overwrite",
              "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["model"] == newer


def test_profile_feeds_monitor_drift_and_log_as_feeds_monitor_endpoint(
        model: str, inputs: Path, tmp_path: Path, airlock_home: Path) -> None:
    train = tmp_path / "train.parquet"
    frame(5000, 99).to_parquet(train)
    assert cli("monitor", "profile", str(train), "-o", str(tmp_path / "train.profile"),
               "--columns", ",".join(FEATURES), home=airlock_home).returncode == 0
    res = cli("batch", "score", model, "-i", str(inputs), "-o", str(tmp_path / "out"),
              "--profile", str(tmp_path / "scores.profile"), "--log-as", "nightly", "--json",
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["log_as"] == "nightly"
    res = cli("monitor", "drift", "--reference", str(tmp_path / "train.profile"),
              "--current", str(tmp_path / "scores.profile"), "--json", home=airlock_home)
    assert res.returncode in (0, 1), res.stderr
    from_profile = json.loads(res.stdout)
    assert set(from_profile["columns"]) == set(FEATURES)
    # the same verdicts as scoring the scored rows themselves
    scored = tmp_path / "scored.parquet"
    import pandas as pd

    pd.concat([pd.read_parquet(p) for p in sorted(inputs.rglob("*.parquet"))]).dropna(
        subset=["x"]).to_parquet(scored)
    res = cli("monitor", "drift", "--reference", str(tmp_path / "train.profile"),
              "--current", str(scored), "--json", home=airlock_home)
    from_data = json.loads(res.stdout)
    assert from_profile["current_rows"] == from_data["current_rows"] == 5985
    for name in FEATURES:
        a, b = from_profile["columns"][name], from_data["columns"][name]
        assert (a["method"], a["drifted"]) == (b["method"], b["drifted"]), name
        assert a["statistic"] == pytest.approx(b["statistic"], rel=0.05, abs=1e-3), name
    res = cli("monitor", "endpoint", "nightly", "--window", "1d", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    totals = json.loads(res.stdout)["totals"]
    assert totals["requests"] >= 3 and totals["error_rate"] == 0


def test_a_terminal_gets_a_progress_bar_and_pipes_get_plain_lines(
        model: str, inputs: Path, tmp_path: Path, airlock_home: Path) -> None:
    from .test_cli_contract import _terminal

    code, text = _terminal("batch", "score", model, "-i", str(inputs), "-o",
                           str(tmp_path / "tty"), home=airlock_home)
    assert code == 0, text
    assert "scoring" in text and "rows/s" in text
    assert "batch: 3/3 fragments" not in text  # the bar, not the plain lines
    res = cli("batch", "score", model, "-i", str(inputs), "-o", str(tmp_path / "pipe"),
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert "batch: 3/3 fragments, 6,000 rows" in res.stderr
