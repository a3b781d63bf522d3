"""The UI benchmark still runs: ``bench/ui.py --smoke`` end to end against a real `airlock
ui` and a real `mlflow server` (no timing asserts); on the way it checks that both return
the same runs in the same order, that airlock's run page charts every metric and that its
endpoint page counts every logged request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "ui.py"
MS = r"[\d.,]+ ms"


def test_ui_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="the benchmark compares with MLflow: "
                                         "pip install -e '.[bench]'")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for case in ("runs_api", "runs_page"):
        assert re.search(rf"^case {case}: airlock {MS} \| mlflow search {MS} \| ratio "
                         r"[\d.,]+x \| target <= 1000 ms and >= 5x \| met\? (yes|NO)$",
                         out, re.M), out
    assert re.search(rf"^case run_page: airlock {MS} \| mlflow get \+ 4 histories {MS} \| "
                     r"ratio [\d.,]+x \| target <= 300 ms \| met\? (yes|NO)$", out, re.M), out
    assert re.search(rf"^case endpoint_page: airlock {MS} over 6,000 requests \(\d+ windows\) "
                     r"\| target <= 2000 ms \| met\? (yes|NO)$", out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["smoke"] is True and figures["sizes"]["runs"] == 60
    f = figures["figures_ms"]
    assert f["runs_matched"] > 0 and f["endpoint_windows"] == 3
    assert all(f[k] > 0 for k in ("runs_api", "runs_page", "mlflow_search", "run_page",
                                  "mlflow_run", "endpoint_page"))
