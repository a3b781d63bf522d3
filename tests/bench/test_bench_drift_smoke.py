"""The drift benchmark still runs: ``bench/drift.py --quick`` end to end (no timing asserts).
Evidently runs too when ``.venv-evidently`` exists (the integration test creates it); otherwise
the benchmark prints a note and reports airlock alone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "drift.py"
EVIDENTLY = ROOT / ".venv-evidently" / "bin" / "python"


def test_drift_benchmark_quick_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--repeats", "1", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    figures = json.loads(out_json.read_text())
    assert figures["quick"] is True and figures["rows"] == 20_000
    assert figures["airlock_s"] > 0 and figures["airlock_profile_s"] > 0
    assert figures["airlock_rss_mb"] > 0 and 0 < figures["profile_bytes"] < 1_000_000
    # the shifted columns (every 4th numeric, 2 categorical) are the ones found
    assert {"num_00", "num_04", "num_08", "num_12", "num_16"} <= set(figures["airlock_drifted"])
    assert "num_01" not in figures["airlock_drifted"]
    assert re.search(r"^case profile score: airlock [\d.]+ s", out, re.M), out
    assert re.search(r"^case peak_rss: airlock [\d,]+ MB \| profile [\d,]+ MB", out, re.M), out
    if EVIDENTLY.exists():
        assert re.search(r"^case fit\+score: airlock [\d.]+ s \| evidently [\d.]+ s \| ratio "
                         r"[\d.,]+x \| target >= 20x \| met\? (yes|NO)$", out, re.M), out
        assert figures["agree"] == figures["compared"] == 25, figures.get("differ")
    else:
        assert "note: Evidently skipped" in out
