"""The batch benchmark still runs: ``bench/batch.py --quick`` end to end on every engine and
its peers (the hand-written loop, MLflow's spark_udf, a hand-written Ray Data job); no timing
asserts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "batch.py"


@pytest.mark.slow
def test_batch_benchmark_quick_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out_json)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    figures = json.loads(out_json.read_text())
    assert figures["quick"] is True and figures["rows"] == 20_000
    for key in ("local_rows_per_s", "local1_rows_per_s", "loop_rows_per_s", "local_rss_mb",
                "loop_rss_mb", "spark_airlock_rows_per_s", "spark_peer_rows_per_s",
                "ray_airlock_rows_per_s", "ray_peer_rows_per_s"):
        assert figures[key] > 0, key
    out = proc.stdout
    ratio = r"ratio [\d.]+x \| target >= [\d.]+x \| met\? (yes|NO)"
    assert re.search(rf"^case local: airlock [\d,]+ rows/s .*\| loop [\d,]+ rows/s \| {ratio}$",
                     out, re.M), out
    assert re.search(r"^case peak_rss: airlock [\d,]+ MB .*\| loop [\d,]+ MB \|", out, re.M)
    assert re.search(rf"^case spark: airlock [\d,]+ rows/s \| mlflow spark_udf [\d,]+ rows/s "
                     rf"\| {ratio}", out, re.M), out
    assert re.search(r"^case ray: airlock [\d,]+ rows/s \| hand-written map_batches [\d,]+ "
                     r"rows/s \| overhead [+-][\d.]+% \| target <= 15% \| met\? (yes|NO)",
                     out, re.M), out
