"""`airlock eval | gate | promote | card | models protect` as a user drives them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

import airlock
from airlock.store import close_stores

from .test_cli import AIRLOCK, cli, one_line_error

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
PASSING = """name: release
rules:
  - metric: roc_auc
    min: 0.6
  - fairness: demographic_parity_difference
    feature: sex
    max: 0.9
"""
STRICT = "name: strict\nrules:\n  - metric: roc_auc\n    min: 0.999\n"
FAIRNESS_AND_SLICES = """name: release
rules:
  - metric: roc_auc
    min: 0.6
  - fairness: demographic_parity_ratio
    feature: sex
    min: 0.8
  - metric: roc_auc
    per_slice: true
    min: 0.8
    min_support: 20
    columns: [education]
"""


@pytest.fixture
def setup(airlock_home: Path, adult_sample: Any, tmp_path: Path) -> dict[str, Any]:
    df = adult_sample.with_columns((pl.col("income") == ">50K").cast(pl.Int64))
    train, test = df.head(1200), df.tail(800)
    X = train.select(NUMERIC).to_pandas()
    y = train["income"].to_numpy()
    airlock.register_model("m", LogisticRegression(max_iter=300).fit(X, y), input_example=X[:5])
    airlock.register_model("m", HistGradientBoostingClassifier(max_iter=20).fit(X, y),
                           input_example=X[:5])
    close_stores()
    data = tmp_path / "test.parquet"
    test.write_parquet(data)
    (tmp_path / "pass.yaml").write_text(PASSING)
    (tmp_path / "strict.yaml").write_text(STRICT)
    (tmp_path / "release.yaml").write_text(FAIRNESS_AND_SLICES)
    (tmp_path / "typo.yaml").write_text("name: t\nrules:\n  - metric: roc_aux\n    min: 0.5\n")
    return {"data": str(data), "dir": tmp_path}


def _eval(setup: dict[str, Any], home: Path, *extra: str) -> Any:
    return cli("eval", "m@1", "--data", setup["data"], "--target", "income", "--slices",
               "education", "--sensitive", "sex", "--bootstrap", "100", *extra, home=home)


def test_eval_json_report_and_gate(setup: dict[str, Any], airlock_home: Path) -> None:
    report = setup["dir"] / "eval.html"
    res = _eval(setup, airlock_home, "--policy", str(setup["dir"] / "pass.yaml"),
                "--report", str(report), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["id"].startswith("ev-") and out["task"] == "binary"
    auc = out["overall"]["roc_auc"]
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"]
    assert "Bachelors" in out["slices"]["education"]
    assert set(out["fairness"]["sex"]["by_group"]) == {"Female", "Male"}
    assert out["decision"]["passed"] is True
    html = report.read_text()
    assert "<svg" in html and "http://" not in html and "https://" not in html

    res = cli("gate", out["id"], "--policy", str(setup["dir"] / "strict.yaml"), "--json",
              home=airlock_home)
    assert res.returncode == 1
    assert json.loads(res.stdout)["passed"] is False


def test_failing_policy_exits_1(setup: dict[str, Any], airlock_home: Path) -> None:
    res = _eval(setup, airlock_home, "--policy", str(setup["dir"] / "strict.yaml"))
    assert res.returncode == 1, res.stderr
    assert "FAILED" in res.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["--slices", "nope"], "'nope' (slice)"),
    (["--task", "clustering"], "unknown task"),
    (["--bootstrap", "-5"], "bootstrap"),
])
def test_eval_usage_errors(setup: dict[str, Any], airlock_home: Path, args: list[str],
                           fragment: str) -> None:
    res = cli("eval", "m@1", "--data", setup["data"], "--target", "income", *args,
              home=airlock_home)
    assert fragment in one_line_error(res)


def test_policy_errors_come_before_the_evaluation(setup: dict[str, Any],
                                                  airlock_home: Path) -> None:
    started = time.perf_counter()
    res = cli("eval", "m@1", "--data", setup["data"], "--target", "income", "--bootstrap",
              "100000", "--policy", str(setup["dir"] / "typo.yaml"), home=airlock_home)
    line = one_line_error(res)
    assert "rule 1" in line and "roc_aux" in line
    assert time.perf_counter() - started < 20  # 100,000 resamples were never started


def test_protect_gate_promote_override_history_card(setup: dict[str, Any],
                                                    airlock_home: Path) -> None:
    policy = str(setup["dir"] / "pass.yaml")
    assert cli("models", "protect", "m", "production", "--policy", policy,
               home=airlock_home).returncode == 0
    line = one_line_error(cli("models", "alias", "m@1", "production", home=airlock_home), 1)
    assert "protected" in line
    line = one_line_error(cli("promote", "m@1", "--to", "production", home=airlock_home), 1)
    assert "no passing decision" in line or "m@1" in line

    assert _eval(setup, airlock_home, "--policy", policy).returncode == 0
    res = cli("promote", "m@1", "--to", "production", "--json", home=airlock_home)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["decision"].startswith("dc-")

    line = one_line_error(cli("promote", "m@2", "--to", "production", "--override",
                              home=airlock_home))
    assert "reason" in line
    res = cli("promote", "m@2", "--to", "production", "--override", "--reason",
              "hotfix for incident 42", home=airlock_home)
    assert res.returncode == 0, res.stderr
    hist = json.loads(cli("models", "history", "m", "--json", home=airlock_home).stdout)
    assert [(h["action"], h["from"], h["to"]) for h in hist if h["alias"] == "production"] == [
        ("alias.protected", None, None), ("alias.set", None, 1), ("alias.moved", 1, 2)]
    events = json.loads(cli("events", "--action", "promotion.", "--json",
                            home=airlock_home).stdout)
    assert events[-1]["payload"]["reason"] == "hotfix for incident 42"
    assert events[-1]["actor"] == "cli-user"

    card = setup["dir"] / "card.md"
    res = cli("card", "m@1", "-o", str(card), home=airlock_home)
    assert res.returncode == 0, res.stderr
    text = card.read_text()
    assert "roc_auc" in text and "release" in text
    res = cli("card", "m@1", "--format", "html", home=airlock_home)
    assert res.returncode == 0 and res.stdout.lstrip().startswith("<!DOCTYPE html>")
    assert "unknown card format" in one_line_error(
        cli("card", "m@1", "--format", "pdf", home=airlock_home))
    assert "no such file or folder" in one_line_error(  # written by write_atomic, not raw
        cli("card", "m@1", "-o", str(setup["dir"] / "nope" / "card.md"), home=airlock_home))


def _cli_at(columns: int, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "AIRLOCK_ACTOR": "cli-user",
           "COLUMNS": str(columns)}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([AIRLOCK, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_terminal_summary_shows_every_failed_or_flagged_check_at_80_columns(
        setup: dict[str, Any], airlock_home: Path) -> None:
    """Issue 12 item 9: a failed four-fifths rule (Adult, sex) went unnoticed because the
    terminal showed overall metrics only. At 80 columns the summary now lists every slice
    under its bound or flagged for support, every disparity outside its bound and every
    failed gate rule with why, numbers rounded, and says where the rest is."""
    report = setup["dir"] / "eval.html"
    args = ("eval", "m@1", "--data", setup["data"], "--target", "income", "--slices",
            "education", "--sensitive", "sex", "--bootstrap", "100", "--policy",
            str(setup["dir"] / "release.yaml"), "--report", str(report))
    res = _cli_at(80, *args, home=airlock_home)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, res.stdout
    for number in re.findall(r"\d*\.\d+", res.stdout):  # rounded for people
        assert len(number.replace(".", "").lstrip("0")) <= 4, number
    text = " ".join(res.stdout[res.stdout.index("Failed or flagged checks"):].split())
    out = json.loads(_cli_at(80, *args[:-2], "--json", home=airlock_home).stdout)

    rule = out["fairness"]["sex"]["disparities"]["four_fifths_rule"]
    assert rule["passed"] is False and rule["value"] < 0.8
    assert f"FAIL fairness: four_fifths_rule on sex: ratio {rule['value']:.4g}" in text
    assert "needs >= 0.8" in text
    for r in out["decision"]["rules"]:
        assert (f"gate rule {r['index']} `{r['text']}`" in text) is (not r["passed"])
    failing = out["decision"]["rules"][2]["evidence"]["failing"]
    assert failing  # some education slices are under roc_auc 0.8
    for f in failing:
        assert f"FAIL slice education = {f['value']}: {f['metric_value']:.4g}, outside " \
               "the bound of rule 3" in text
    for value, cell in out["slices"]["education"].items():
        shown = f"FLAG slice education = {value}: {cell['support']} rows" in text
        assert shown is cell["flagged"], value
        if cell["flagged"] and cell["support"] >= 20:  # gated by the policy's lower support
            assert f"education = {value}: {cell['support']} rows, gated by policy release " \
                   "rule 3 (min support 20)" in text
    assert f"--json, or the HTML report {report}" in text
    assert report.exists()
    # slices in their natural order (issue 12 item 16), not as text (12th, 1st-4th, 9th)
    shown = [text.index(f"FLAG slice education = {v}:") for v in ("1st-4th", "9th", "12th")]
    assert shown == sorted(shown)
