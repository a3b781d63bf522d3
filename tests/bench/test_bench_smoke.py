"""The benchmark still runs: ``bench/tracking.py --smoke`` end to end (no timing asserts)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "tracking.py"
CASES = ("log_metric", "log_metrics", "log_batch",
         "log_params", "search_runs", "load_model", "resolve_alias")


def test_benchmark_smoke_runs_every_case(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="the benchmark compares with MLflow: "
                                         "pip install -e '.[bench]'")
    pytest.importorskip("sklearn", reason="the benchmark trains scikit-learn models")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for case in CASES:
        line = rf"^case {re.escape(case)}\S* \w+: airlock .+ \| mlflow .+ \| ratio [\d.,]+x$"
        assert re.search(line, proc.stdout, re.M), f"no ratio line for {case}:\n{proc.stdout}"
    assert "| met?" in proc.stdout
    assert out_json.exists()
