"""Issue 12 items 10-13 and 19 as a user sees them: every table fits 80 columns (COLUMNS, or
80 when piped), numbers are rounded for people (full precision in --json), every failing or
empty row says why, runs show their history and artifacts, a missing store is named, and a
protected alias keeps its policy unless --replace."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import airlock
from airlock.cli._store import MSG_CREATED, MSG_NO_STORE
from airlock.cli._table import SPARKS
from airlock.gates import load_policy
from airlock.store import close_stores, get_store

from .test_cli import AIRLOCK, one_line_error


def run(*args: str, home: Path, columns: int | None = 80,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed CLI, piped (not a terminal), ``columns`` wide (None: COLUMNS unset)."""
    env = {**os.environ, "AIRLOCK_HOME": str(home), "AIRLOCK_ACTOR": "cli-user"}
    env.pop("AIRLOCK_STORE_URI", None)
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([AIRLOCK, *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=120, check=False)


def fits(text: str, width: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, text


# -- runs ------------------------------------------------------------------------------------
@pytest.fixture
def runs(airlock_home: Path, tmp_path: Path) -> list[str]:
    """Three runs with five params, four metrics (one with 30 steps) and an artifact."""
    (tmp_path / "notes.txt").write_text("hello")
    ids = []
    for i, (depth, lr) in enumerate(((6, 0.1), (3, 0.01), (9, 0.000833333))):
        with airlock.start_run("wine-quality", params={
                "max_depth": depth, "learning_rate": lr, "n_estimators": 100 * i + 50,
                "subsample": 0.8, "criterion": "gini"}) as r:
            for step in range(30):
                r.log_metric("val_auc", 0.8 + 0.005 * step, step=step)
            r.log_metric("rmse", 28.200000000000003 + i)
            r.log_metric("train_ms", 85875.9 * (i + 1))
            r.log_metric("val_loss", 0.000833333)
            r.log_artifact(tmp_path / "notes.txt", "docs")
        ids.append(r.id)
    close_stores()
    return ids


def test_runs_list_fits_80_columns_with_params_and_short_ids(
        runs: list[str], airlock_home: Path) -> None:
    for columns in (80, None):  # COLUMNS=80, and piped with no COLUMNS: 80 too
        res = run("runs", "list", home=airlock_home, columns=columns)
        assert res.returncode == 0, res.stderr
        fits(res.stdout)
    header = res.stdout.splitlines()[0].split()
    assert header[:2] == ["id", "experiment"]
    assert any(h.startswith("p.") for h in header)  # params are shown, as many as fit
    for run_id in runs:
        assert f"{run_id[:8]} " in res.stdout and run_id[:9] not in res.stdout
    left_out = 13 - len(header)  # of id, experiment, status, started, 4 metrics, 5 params
    assert left_out > 0
    assert f"({left_out} columns left out to fit 80 columns: " in " ".join(res.stdout.split())
    assert "28.200000000000003" not in res.stdout

    wide = run("runs", "list", home=airlock_home, columns=200)
    fits(wide.stdout, 200)
    assert "left out" not in wide.stdout  # everything fits in 200 columns
    assert "28.2 " in wide.stdout and "8.33e-04" in wide.stdout and "85,876" in wide.stdout
    assert "0.000833333" in wide.stdout  # a param is text: shown as logged
    rows = json.loads(run("runs", "list", "--json", home=airlock_home).stdout)
    assert {r["metrics"]["rmse"] for r in rows} == {28.200000000000003, 29.200000000000003,
                                                    30.200000000000003}


def test_runs_show_metric_history(runs: list[str], airlock_home: Path) -> None:
    res = run("runs", "show", runs[0][:8], home=airlock_home)
    assert res.returncode == 0, res.stderr
    fits(res.stdout)
    line = next(li for li in res.stdout.splitlines() if li.startswith("val_auc"))
    assert line.split()[:5] == ["val_auc", "0.945", "0.8", "0.945", "30"]  # last min max steps
    spark = line.split()[5]  # 30 rising points averaged into 24 bars, low to high
    assert len(spark) == 24 and spark[0] == SPARKS[0] and spark[-1] == SPARKS[-1]
    assert list(spark) == sorted(spark, key=SPARKS.index)
    shown = json.loads(run("runs", "show", runs[0], "--json", home=airlock_home).stdout)
    history = shown["metric_history"]["val_auc"]
    assert [p["step"] for p in history] == list(range(30))
    assert history[-1]["value"] == pytest.approx(0.945)
    assert shown["metric_history"]["rmse"][0]["value"] == 28.200000000000003


def test_runs_artifacts_list_and_download_verified(runs: list[str], airlock_home: Path,
                                                   tmp_path: Path) -> None:
    res = run("runs", "artifacts", runs[1][:8], home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert "docs/notes.txt" in res.stdout and "2cf24dba5fb0" in res.stdout  # sha256 prefix
    dest = tmp_path / "out"
    res = run("runs", "artifacts", runs[1], "--download", str(dest), "--json",
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["artifacts"] == [{"path": "docs/notes.txt", "size": 5,
                                 "sha256": out["artifacts"][0]["sha256"]}]
    assert len(out["artifacts"][0]["sha256"]) == 64
    assert (dest / "docs" / "notes.txt").read_text() == "hello"
    stored = airlock_home / "artifacts" / "runs" / runs[2] / "artifacts" / "docs" / "notes.txt"
    stored.write_text("tampered")
    line = one_line_error(run("runs", "artifacts", runs[2], "--download",
                              str(tmp_path / "bad"), home=airlock_home))
    assert "failed its integrity check" in line
    assert not (tmp_path / "bad" / "docs" / "notes.txt").exists()


# -- which store ------------------------------------------------------------------------------
def test_a_missing_store_is_named_not_created(tmp_path: Path) -> None:
    home = tmp_path / "nowhere"
    for args in (["runs", "list"], ["models", "list", "--json"], ["events"],
                 ["runs", "show", "abcd1234"]):
        line = one_line_error(run(*args, home=home))
        assert line == "error: " + MSG_NO_STORE.format(where=home)
    assert not home.exists()  # nothing was created by looking
    info = json.loads(run("store", "info", "--json", home=home).stdout)
    assert info["exists"] is False and info["revision"] is None and not home.exists()

    data = tmp_path / "d.csv"
    data.write_text("a\n1\n2\n")
    contract = tmp_path / "c.yaml"
    assert run("contract", "infer", str(data), "-o", str(contract), home=home).returncode == 0
    res = run("contract", "validate", str(contract), str(data), home=home, columns=400)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == MSG_CREATED.format(where=home, artifacts=home / "artifacts")
    again = run("contract", "validate", str(contract), str(data), home=home)
    assert again.returncode == 0 and again.stderr == ""  # said once, when it was created
    res = run("runs", "list", home=home)
    assert res.returncode == 0 and res.stdout.strip() == "no runs"
    # a command that fails keeps its one error line, whether or not it created the store
    other = tmp_path / "other"
    one_line_error(run("models", "import-mlflow", str(tmp_path / "nope"), "--name", "m",
                       home=other))


# -- guard check -----------------------------------------------------------------------------
LONG = ("My card is 4111 1111 1111 1111 and my mail jane.doe@example.com; the rest of this "
        "message runs well past eighty characters so that a table would have cut it before, "
        "ending with the word zebra")


def test_guard_check_json_lines_carry_index_and_id(airlock_home: Path) -> None:
    lines = ['{"id": "a-1", "text": "hello"}', "", json.dumps({"prompt": LONG}),
             json.dumps({"id": 7, "text": "fine"})]
    res = run("guard", "check", "-", "--json", home=airlock_home, stdin="\n".join(lines))
    assert res.returncode == 0, res.stderr
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(o["index"], o.get("id")) for o in out] == [(0, "a-1"), (2, None), (3, 7)]
    assert out[1]["redacted"].endswith("ending with the word zebra")


@pytest.mark.parametrize("columns", [80, 200])
def test_guard_check_prints_the_full_redacted_text(airlock_home: Path, columns: int) -> None:
    res = run("guard", "check", "--text", LONG, home=airlock_home, columns=columns)
    assert res.returncode == 0, res.stderr
    fits(res.stdout, columns)
    lines = res.stdout.splitlines()
    at = lines[0].index("redacted")  # the last column: every line of it, wrapped
    text = " ".join(li[at:].strip() for li in lines[2:-1])
    assert text == LONG.replace("4111 1111 1111 1111", "<CREDIT_CARD_1>").replace(
        "jane.doe@example.com", "<EMAIL_1>")
    assert "..." not in res.stdout and "…" not in res.stdout


# -- models protect ---------------------------------------------------------------------------
def _double(df: Any) -> Any:
    return df["x"] * 2


def test_models_protect_refuses_another_policy_without_replace(
        airlock_home: Path, tmp_path: Path) -> None:
    airlock.register_model("clf", _double)
    close_stores()
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text("name: release\nrules:\n  - metric: roc_auc\n    min: 0.8\n")
    new.write_text("name: release\nrules:\n  - metric: roc_auc\n    min: 0.6\n")
    old_sha, new_sha = load_policy(old).sha256, load_policy(new).sha256
    res = run("models", "protect", "clf", "production", "--policy", str(old), home=airlock_home)
    assert res.returncode == 0, res.stderr
    line = one_line_error(run("models", "protect", "clf", "production", "--policy", str(new),
                              home=airlock_home))
    assert f"already protected by policy 'release' (sha256 {old_sha[:12]}…)" in line
    assert "--replace" in line
    res = run("models", "protect", "clf", "production", "--policy", str(old), home=airlock_home)
    assert res.returncode == 0 and "nothing changed" in res.stdout
    res = run("models", "protect", "clf", "production", "--policy", str(new), "--replace",
              "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["replaced"] == old_sha
    events = json.loads(run("events", "--action", "alias.protected", "--json",
                            home=airlock_home).stdout)
    assert [e["payload"] for e in events] == [
        {"alias": "production", "policy_sha256": old_sha},
        {"alias": "production", "policy_sha256": new_sha, "previous_policy_sha256": old_sha}]
    hist = run("models", "history", "clf", home=airlock_home)
    fits(hist.stdout)
    assert f"replaced by {new_sha[:12]}…" in hist.stdout


# -- reasons ----------------------------------------------------------------------------------
def test_gate_rows_say_why_they_failed(airlock_home: Path, tmp_path: Path) -> None:
    """A gate's contract row showed FAIL with no reason: it now names the failing checks."""
    data = tmp_path / "scored.csv"
    data.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)) + "999,1\n")
    contract = tmp_path / "c.yaml"
    contract.write_text("name: scored\ncolumns:\n  x: {type: int, max: 100}\n  y: {type: int}\n")
    checked = run("contract", "validate", str(contract), str(data), "--json", home=airlock_home)
    digest = json.loads(checked.stdout)["dataset"]["digest"]
    version = airlock.register_model("m", _double).version
    get_store().evaluations.save(
        eval_id="ev-1", name="m", version=version, model_sha256="0" * 64, task="binary",
        dataset=None, result={
            "id": "ev-1", "model": {"ref": f"m@{version}", "name": "m", "version": version},
            "dataset": {"name": "scored", "digest": digest, "rows": 41}, "task": "binary",
            "support": 41, "higher_is_better": {"roc_auc": True},
            "overall": {"roc_auc": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8}}})
    close_stores()
    policy = tmp_path / "p.yaml"
    policy.write_text("name: p\nrules:\n  - contract: scored\n  - metric: roc_auc\n"
                      "    min: 0.9\n")
    res = run("gate", "ev-1", "--policy", str(policy), home=airlock_home)
    assert res.returncode == 1, res.stderr
    fits(res.stdout)
    words = " ".join(res.stdout.split())
    assert "failed 1 check: range x (expected values at most 100)" in words
    assert "0.7 is below the bound 0.9" in words
    rules = json.loads(run("gate", "ev-1", "--policy", str(policy), "--json",
                           home=airlock_home).stdout)["rules"]
    assert rules[0]["evidence"]["reason"].startswith("the newest validation (")
    assert " ".join(rules[0]["evidence"]["reason"].split()) in words


def test_drift_rows_show_their_notes(airlock_home: Path, tmp_path: Path) -> None:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pl.DataFrame({"a": [float(i) for i in range(200)], "b": [1.0] * 200}).write_parquet(ref)
    pl.DataFrame({"a": [float(i) for i in range(200)],
                  "b": pl.Series([None] * 200, dtype=pl.Float64)}).write_parquet(cur)
    res = run("monitor", "drift", "-r", str(ref), "-c", str(cur), home=airlock_home)
    fits(res.stdout)
    out = json.loads(run("monitor", "drift", "-r", str(ref), "-c", str(cur), "--json",
                         home=airlock_home).stdout)
    note = out["columns"]["b"]["note"]
    assert note and " ".join(note.split()) in " ".join(res.stdout.split())


def test_numbers_are_rounded_in_tables_and_exact_in_json(airlock_home: Path,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "d.parquet"
    pl.DataFrame({"price": [28.200000000000003, 0.000833333, 85875.9],
                  "n": [1, 2, 1234567]}).write_parquet(data)
    res = run("monitor", "profile", str(data), "-o", str(tmp_path / "p.json"),
              home=airlock_home)
    assert res.returncode == 0, res.stderr
    fits(res.stdout)
    row = next(li for li in res.stdout.splitlines() if li.startswith("price")).split()
    assert row[4:7] == ["8.33e-04", "85,876", "28,635"]  # min, max, mean
    assert "1,234,567" in res.stdout
    out = json.loads(run("monitor", "profile", str(data), "-o", str(tmp_path / "p.json"),
                         "--json", home=airlock_home).stdout)
    assert out["columns"]["price"]["min"] == 0.000833333


# -- served endpoints -------------------------------------------------------------------------
ERROR = ("wine@2 failed: RuntimeError: the model raised on this input because alcohol was "
         "negative, which the training data never held")


@pytest.fixture
def wine_log(airlock_home: Path) -> None:
    """Five answered requests and two that failed with 503, a minute ago."""
    import time

    import pyarrow as pa

    from airlock.predlog import PredictionLog, log_locations, make_batch_records, make_records

    uri, spool = log_locations()
    now = int(time.time() * 1000) - 60_000
    with PredictionLog("wine", artifact_uri=uri, spool_dir=spool) as plog:
        plog.append(make_batch_records(
            request_ids=[f"r{i}" for i in range(5)], row_counts=[1] * 5,
            ts_ms=[now + i for i in range(5)], latency_ms=[5.0] * 5, status=200,
            endpoint="wine", route="primary", model="wine", version=2,
            inputs=pa.table({"alcohol": [10.125730221093393] * 5}),
            outputs=pa.table({"prediction": [1] * 5}))).result()
        for i in range(2):
            plog.append(make_records(
                request_id=f"bad{i}", ts_ms=now + 10 + i, endpoint="wine", route="primary",
                model="wine", version=2, status=503, latency_ms=7.0,
                inputs=pa.table({"alcohol": [-1.0]}), outputs=None,
                error_code="ModelUnavailable", error=ERROR)).result()


def test_endpoint_windows_say_why_drift_is_missing(wine_log: None, airlock_home: Path) -> None:
    res = run("monitor", "endpoint", "wine", home=airlock_home)
    assert res.returncode == 0, res.stderr
    fits(res.stdout)
    out = json.loads(run("monitor", "endpoint", "wine", "--json", home=airlock_home).stdout)
    (window,) = out["windows"]
    words = " ".join(res.stdout.split())
    for why in (window["missing"]["input_drift"], window["missing"]["prediction_drift"]):
        assert " ".join(why.split()) in words, (why, res.stdout)
    assert "1 window, 7 requests, error rate 28.57%" in words


def test_logs_and_events_fit_80_columns_and_keep_every_error(wine_log: None,
                                                             airlock_home: Path) -> None:
    res = run("logs", "read", "wine", home=airlock_home)
    assert res.returncode == 0, res.stderr
    fits(res.stdout)
    assert "alcohol=10.13" in res.stdout  # inputs rounded for people
    errors = [" ".join(li.split()) for li in res.stdout.split("↳")[1:]]
    assert len(errors) == 2 and all(f"ModelUnavailable: {ERROR}" in e for e in errors)
    for _ in range(3):
        with airlock.start_run("a-rather-long-experiment-name-for-the-audit-log"):
            pass
    close_stores()
    res = run("events", home=airlock_home)
    assert res.returncode == 0, res.stderr
    fits(res.stdout)
    run_ids = {e["subject"] for e in json.loads(run("events", "--json", home=airlock_home
                                                    ).stdout)}
    for subject in run_ids:  # run ids cut to 8 characters, as `runs list` prints them
        assert f"{subject[:13]} " in res.stdout and subject[:14] not in res.stdout
    assert "status=FINISHED" in res.stdout
