"""The contracts benchmark still runs: ``bench/contracts.py --smoke`` end to end (no timing
asserts); on the way it checks that airlock's failing counts equal hand-written polars'."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "contracts.py"


def test_contracts_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    if importlib.util.find_spec("pandera") is None:
        print("skipped: pandera is not installed (pip install 'pandera[polars]>=0.35')")
        pytest.skip("pandera is not installed: pip install 'pandera[polars]>=0.35'")
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out_json)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert re.search(r"^case validate: airlock [\d.]+ s \| pandera [\d.]+ s \| polars [\d.]+ s "
                     r"\| ratio [\d.,]+x \| target >= 4x \| met\? (yes|NO)$", out, re.M), out
    for label in ("in_memory", "parquet"):
        assert re.search(rf"^case peak_rss_{label}: airlock \+[\d,]+ MB \| checked columns "
                         rf"[\d,]+ MB \| [\d.]+x \| target <= 1.5x \| met\? (yes|NO)$",
                         out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["smoke"] is True and figures["rows"] == 20_000
    assert figures["ratio"] > 0 and figures["pandera_errors"] > 0
    assert sum(figures["failing"].values()) > 0
