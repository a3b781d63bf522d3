"""The evidence benchmark still runs: ``bench/evidence.py --smoke`` end to end (no timing
asserts): the demo's steps build the store, the pack is exported, signed and verified."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "evidence.py"


def test_evidence_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    for case, peer in (("export", "model card alone"), ("verify", "sha256 of every file")):
        assert re.search(rf"^case {case}: airlock [\d.]+ s \| {peer} [\d.]+ s \| ratio "
                         rf"[\d.,]+x \| target <= 3 s \| met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^case cli: export [\d.]+ s \(cpu [\d.]+ s\) \| verify [\d.]+ s "
                     r"\(cpu [\d.]+ s\)", out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["smoke"] is True and figures["ref"] == "adult-income@production"
    assert figures["files"] > 15 and 0 < figures["completeness"] <= 1
