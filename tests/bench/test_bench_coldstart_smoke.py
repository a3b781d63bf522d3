"""The cold-start benchmark still runs: ``bench/coldstart.py --quick --runs 1`` end to end,
real cold processes on both sides (no timing asserts)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "coldstart.py"


@pytest.mark.slow
def test_coldstart_benchmark_times_both_sides_to_their_first_prediction(
        tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="the benchmark compares with MLflow: "
                                         "pip install -e '.[bench]'")
    pytest.importorskip("sklearn", reason="the benchmark serves a scikit-learn model")
    out_json = tmp_path / "cold.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--runs", "1", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    for label in ("wall", "cpu"):
        line = (rf"^case first prediction {label}: airlock [\d.]+ s \| mlflow [\d.]+ s \| "
                r"ratio [\d.]+x$")
        assert re.search(line, proc.stdout, re.M), proc.stdout
    assert re.search(r"^target airlock starts scoring within 1\.5 s: .*: (PASS|MISS)$",
                     proc.stdout, re.M), proc.stdout
    doc = json.loads(out_json.read_text())
    assert set(doc["sides"]) == {"airlock", "mlflow"}
    # CPU may exceed wall time (threads on two cores); both must be real measurements
    assert all(side["cpu_s"] > 0 and side["wall_s"] > 0 for side in doc["sides"].values())
