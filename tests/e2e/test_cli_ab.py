"""`airlock ab analyze ENDPOINT` as a user runs it, over a prediction log written through the
predlog writer: every verdict and reason at 80 columns, full precision in --json, the result
stored, the report written, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.e2e.test_cli import one_line_error
from tests.integration.experiment_helpers import EP, Traffic, write_traffic

from airlock.experiments import (
    MSG_COVARIATE_MISSING,
    MSG_NO_LABELS,
    MSG_NO_TRAFFIC,
    MSG_ONE_ROUTE,
    MSG_ONE_VARIANT,
)

ROOT = Path(__file__).resolve().parents[2]


def ab(*args: str, home: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIRLOCK_HOME": str(home), "COLUMNS": str(columns)}
    env.pop("AIRLOCK_STORE_URI", None)
    return subprocess.run([sys.executable, "-m", "airlock", "ab", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


@pytest.fixture
def logged(airlock_home: Path) -> Path:
    """A canary with more errors (a breached guardrail) and a shadow beside the routes."""
    write_traffic(Traffic(n=3000, accuracy=(0.80, 0.86), error_rate=(0.01, 0.06)), shadow=40,
                  guard=5)
    return airlock_home


def test_analyze_prints_every_verdict_within_80_columns(logged: Path, tmp_path: Path) -> None:
    report = tmp_path / "ab.html"
    res = ab("analyze", EP, "--since", "1d", "--metric", "accuracy", "--metric", "error_rate",
             "--metric", "latency_p95", "--metric", "mean(outputs.proba_1)", "--covariate",
             "inputs.age", "--sequential", "--guardrail", "error_rate:0.01", "--report",
             str(report), home=logged)
    assert res.returncode == 1, res.stderr  # a breached guardrail is a failed check
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), [x for x in lines if len(x) > 80]
    out = res.stdout
    assert "SRM: ok" in out and "canary vs primary" in out
    assert "guardrail BREACHED: margin 0.01" in out
    assert "guardrails: canary error_rate BREACHED" in out
    assert "confidence sequences, tuning 5000" in out
    assert "note: requests not attributable to a variant, left out (guard: 5)" in out
    assert "CUPED on accuracy with inputs.age" in out
    assert "stored as exp-" in out and report.exists()
    html = report.read_text()
    assert "Sample ratio" in html and "no mismatch" in html and "<svg" in html
    assert "confidence sequence" in html


def test_json_has_the_documented_shape_and_full_precision(logged: Path) -> None:
    res = ab("analyze", EP, "--since", "1d", "--metric", "accuracy,error_rate", "--json",
             "--no-store", home=logged)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["srm"]) >= {"p_value", "flagged", "expected", "observed"}
    units = {v: out["variants"][v]["units"] for v in ("primary", "canary")}
    assert sum(units.values()) == 3000  # every answered request, errors too; no shadow row
    assert out["srm"]["observed"] == units
    for c in out["comparisons"]:
        assert {"variant", "control", "metric", "lift", "lift_ci_low", "lift_ci_high",
                "relative_lift", "p_value", "significant", "method"} <= set(c)
    err = next(c for c in out["comparisons"] if c["metric"] == "error_rate")
    assert err["significant"] is True and err["lift"] > 0.02
    assert "id" not in out  # --no-store


@pytest.mark.parametrize(("args", "message"), [
    (["--covariate", "inputs.nope"], MSG_COVARIATE_MISSING.format(name="inputs.nope")),
    (["--since", "20d", "--until", "19d"], None),
    (["--guardrail", "error_rate"], "invalid --guardrail 'error_rate'"),
])
def test_bad_input_is_one_line_and_exit_2(logged: Path, args: list[str],
                                          message: str | None) -> None:
    line = one_line_error(ab("analyze", EP, "--since", "1d", *args, home=logged)
                          if "--since" not in args else ab("analyze", EP, *args, home=logged))
    if message is None:
        assert line.startswith("error: " + MSG_NO_TRAFFIC.split("{")[0])
    else:
        assert message in line


def test_labels_that_never_arrived_and_one_route(airlock_home: Path,
                                                                  tmp_path: Path) -> None:
    write_traffic(Traffic(n=400), feedback=False)
    line = one_line_error(ab("analyze", EP, "--since", "1d", "--metric", "accuracy",
                             home=airlock_home))
    assert line == "error: " + MSG_NO_LABELS.format(metric="accuracy")
    single = tmp_path / "one.yaml"
    single.write_text(f"name: {EP}\nroutes:\n  - model: {EP}@1\n")
    line = one_line_error(ab("analyze", EP, "--since", "1d", "--config", str(single),
                             home=airlock_home))
    assert line == "error: " + MSG_ONE_ROUTE.format(name=EP, route="primary")
    write_traffic(Traffic(n=100, canary_share=0.0), endpoint="solo", feedback=False)
    line = one_line_error(ab("analyze", "solo", "--since", "1d", "--metric", "error_rate",
                             home=airlock_home))
    assert line == "error: " + MSG_ONE_VARIANT.format(name="primary")
