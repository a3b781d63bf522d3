"""The retrieval benchmark still runs: ``bench/retrieval.py --smoke`` end to end (no timing
asserts): embedding chunks/s against the numpy reference with equal embeddings, and the
HNSW index against exact faiss search with its recall."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_retrieval_benchmark_smoke_prints_every_figure(tmp_path: Path) -> None:
    out_json = tmp_path / "retrieval.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "retrieval.py"), "--smoke",
                           "--json", str(out_json)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False,
                          env={k: v for k, v in os.environ.items()
                               if k != "AIRLOCK_BENCH_TORCH_PYTHON"})
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert re.search(r"^  airlock \(onnxruntime\): [\d,.]+ chunks/s$", out, re.M), out
    assert re.search(r"^  numpy reference: [\d,.]+ chunks/s \| ratio [\d.]+x \| min cosine "
                     r"[\d.]+$", out, re.M), out
    assert re.search(r"^  recall@10 against exact: [\d.]+ ", out, re.M), out
    figures = json.loads(out_json.read_text())
    assert figures["smoke"] is True
    assert figures["embedding"]["peers"]["numpy reference"]["min_cosine"] >= 1 - 1e-4
    idx = figures["index"]
    assert idx["vectors"] == 3000 and 0.5 <= idx["recall_at_10"] <= 1.0
    assert idx["hnsw_qps"] > 0 and idx["exact_qps"] > 0 and idx["hnsw_build_s"] > 0
