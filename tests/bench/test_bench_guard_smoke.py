"""The guard benchmark still runs: ``bench/guard.py --quick`` end to end (no timing asserts);
it prints the latency line of every prompt-length bucket for the default policy (rules +
the fast classifier), the rules-only policy, the MiniLM variant (its weights are part of
the dev install) and the PII peer (Presidio's pattern recognizers when presidio-analyzer is
installed, else the plain-regex floor), the CLI throughput, and recall and false positives
on the held-out sources."""

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
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    peer = "presidio" if "vs rules vs presidio" in out else "plain-regex"
    cell = r"p50 [\d.]+ p95 [\d.]+ \([\d.]+\)"
    for bucket, target in (("tok128", 10), ("tok512", 10), ("tok4k", 60)):
        assert re.search(rf"^case latency_{bucket}: \d+ prompts, \d+ tokens mean \| default "
                         rf"{cell} \| rules {cell} \| minilm {cell} \| {peer} {cell} \| "
                         rf"target p95 <= {target} "
                         rf"ms \| met\? (yes|NO)$", out, re.M), out
    assert re.search(r"^case cli_throughput: default [\d,]+ prompts/s \| rules [\d,]+ "
                     r"prompts/s \| minilm [\d,]+ prompts/s \(20 prompts, start-up included\) "
                     r"\| target >= 200/s \| "
                     r"met\? (yes|NO)$", out, re.M), out
    for name in ("default", "rules", "minilm"):
        assert re.search(rf"^  {name} +recall [\d.]+ \[[\d.]+, [\d.]+\] of 233 met\? "
                         rf"(yes|NO) \| FP [\d.]+ \[[\d.]+, [\d.]+\] of 523", out, re.M), out
    assert re.search(r"^  own-heldout:attacks +30 recall", out, re.M), out
    assert re.search(r"^  independent:roleplay_jailbreak +25 recall", out, re.M), out
    # the writers no head was fitted on are reported on their own, per writer and pooled
    unseen = out.split("no head was fitted on (writers/f-i):\n", 1)[1]
    assert re.search(r"^  default +recall [\d.]+ \[[\d.]+, [\d.]+\] of 441 met\? "
                     r"(yes|NO) \| FP [\d.]+ \[[\d.]+, [\d.]+\] of 712", unseen, re.M), out
    for w in "fghi":
        assert re.search(rf"^  unseen-{w} \(attacks\) +\d+ recall", unseen, re.M), out
    f = json.loads(out_json.read_text())
    assert f["quick"] is True and f["classifier_on"] is True
    tokens = {b: v["tokens_mean"] for b, v in f["buckets"].items()}
    assert tokens["tok128"] <= 128 < tokens["tok512"] <= 512 < tokens["tok4k"] <= 4000
    default, rules = f["quality"]["default"], f["quality"]["rules"]
    # the classifier adds recall on the held-out sources (the figures are the same in quick
    # mode: the held-out split is measured whole); measured 0.880 recall, 0.033 FP
    assert default["recall"] > rules["recall"] + 0.1 and default["recall"] >= 0.85
    assert default["fp_rate"] <= 0.05
    assert f["pii"]["airlock"]["pii_recall"] >= 0.95 and f["pii"]["airlock"]["spans"] == 205
