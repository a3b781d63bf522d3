"""The experiments benchmark still runs: ``bench/experiments.py --quick`` end to end (no
timing asserts), with gbstats on the same aggregates agreeing with airlock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "experiments.py"


def test_experiments_benchmark_quick_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out_json)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    figures = json.loads(out_json.read_text())
    assert figures["quick"] is True and figures["requests"] == 200_000
    assert sum(figures["units"].values()) == 200_000  # every request, errors included
    assert figures["airlock_s"] > 0 and figures["gbstats_s"] > 0
    assert figures["agree"] == figures["compared"] == 8
    out = proc.stdout
    assert re.search(r"^case analyze: airlock [\d.]+ s \| gbstats .* [\d.]+ s \| ratio "
                     r"[\d.]+x$", out, re.M), out
    assert re.search(r"^case peak_rss: airlock [\d,]+ MB \| gbstats [\d,]+ MB", out, re.M), out
