"""The RAG metrics benchmark still runs: ``bench/rag.py --quick`` end to end (no timing
asserts); its values equal pytrec_eval's per query (and ranx's means when installed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rag_benchmark_quick_prints_equal_values(tmp_path: Path) -> None:
    out_json = tmp_path / "rag.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "rag.py"), "--quick",
                           "--json", str(out_json)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert re.search(r"^case pytrec_eval: [\d,.]+ ms \| ratio [\d,.]+x \| max abs diff per "
                     r"query [\d.e+-]+ \| equal\? yes", proc.stdout, re.M), proc.stdout
    figures = json.loads(out_json.read_text())
    assert figures["quick"] is True and figures["rows"] == 300 * 20
    assert figures["pytrec_eval"]["max_abs_diff"] <= 1e-9
