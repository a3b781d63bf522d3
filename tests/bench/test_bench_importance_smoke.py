"""The importance benchmark still runs: ``bench/importance.py --smoke`` end to end (no timing
asserts): airlock's permutation importance and scikit-learn's on the same Pipeline, seeds and
rows, equal to 1e-9 for every feature and repeat (else the benchmark exits 1)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "importance.py"


def test_importance_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert "permutation importance, 2,000 rows x 14 features x 2 repeats (roc_auc)" in out
    for pattern in (r"^  airlock +[\d.]+ s$", r"^  sklearn +[\d.]+ s +\(n_jobs=1\)$",
                    r"^  ratio +[\d.]+ x +\(target >= 3x\)$",
                    r"^  largest difference of an importance: [\d.e+-]+; top: \w+, \w+, \w+$"):
        assert re.search(pattern, out, re.M), (pattern, out)
    figures = json.loads(out_json.read_text())
    assert (figures["rows"], figures["features"], figures["repeats"]) == (2000, 14, 2)
    assert figures["max_abs_difference"] <= 1e-9
    assert figures["airlock_s"] > 0 and figures["sklearn_s"] > 0 and figures["ratio"] > 0
    assert len(figures["top"]) == 3 and not list(tmp_path.glob(".airlock"))
