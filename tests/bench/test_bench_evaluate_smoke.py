"""The evaluation benchmark still runs: ``bench/evaluate.py --smoke`` end to end (no timing
asserts): it checks airlock's per-group values against Fairlearn's on the way."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "evaluate.py"


def test_evaluate_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert re.search(r"^case fairness: airlock [\d.]+ s \| fairlearn [\d.]+ s \| "
                     r"ratio [\d.,]+x \| target >= 50x \| met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^case evaluate: airlock [\d.]+ s \| fairlearn [\d.]+ s \| "
                     r"ratio [\d.,]+x \| target >= 20x \| met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^case full_evaluation: airlock [\d.]+ s \| target <= 15 s \| "
                     r"met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^case peak_rss: airlock [\d,]+ MB \(\+[\d,]+ MB over [\d,]+ MB "
                     r"before\) \| target <= 2,048 MB \| met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^info baseline_comparison .*: airlock [\d.]+ s$", out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["smoke"] is True and figures["rows"] == 20_000
    assert figures["evaluate_ratio"] > 0 and len(figures["evaluate_airlock_runs_s"]) == 1
    assert figures["fairness_ratio"] > 0 and figures["peak_rss_mb"] >= figures["baseline_rss_mb"]
