"""The guard benchmark still runs: ``bench/guard.py --quick`` end to end (no timing asserts);
it prints the latency, throughput and quality lines against its peer (Presidio's pattern
recognizers when presidio-analyzer is installed, else the plain-regex baseline)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "guard.py"


def test_guard_benchmark_quick_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "guard.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out_json)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    peer = "presidio" if "peer presidio" in out else "plain-regex"
    assert re.search(rf"^case latency_1kb: airlock p50 [\d.]+ ms p95 [\d.]+ ms \(wall p95 "
                     rf"[\d.]+\) \| {peer} p50 [\d.]+ ms p95 [\d.]+ ms \(wall p95 [\d.]+\) \| "
                     rf"ratio [\d.,]+x \| target p95 <= 5 ms \| met\? (yes|NO)$", out, re.M), out
    assert re.search(rf"^case throughput: airlock [\d,]+ prompts/s \(wall [\d,]+\) \| {peer} "
                     rf"[\d,]+ prompts/s \(wall [\d,]+\) \| ratio [\d.,]+x \| target >= 1,000/s "
                     rf"\| met\? (yes|NO)$", out, re.M), out
    for metric in ("fpr_benign", "injection_recall", "pii_recall"):
        assert re.search(rf"^  {metric} +[\d.]+ \(\d+/\d+\)", out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["quick"] is True and figures["prompts"] == 200
    quality = figures["airlock"]["quality"]
    # the quality figures are computed on the held-out split, the same in quick mode
    assert quality["benign"] == 149 and quality["attacks"] == 123 and quality["spans"] == 205
    assert quality["fpr_benign"] <= 0.02 and quality["pii_recall"] >= 0.95
    assert quality["injection_recall"] >= 0.90
