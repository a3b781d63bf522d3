#!/usr/bin/env python
"""airlock guard (rules + PII) vs Presidio's pattern recognizers vs a plain-regex baseline.

    python bench/guard.py [--prompts N] [--quick] [--json PATH]

One process, one core. Prompts of about 1 KB are built (seeded) from the held-out test split
in examples/guard-data (benign, attack and PII texts joined until ~1,000 bytes). airlock runs
the built-in ``default`` policy at the input stage (normalisation, decoding, injection rules,
PII and secrets). Presidio 2.2: ``AnalyzerEngine`` with a blank spaCy English pipeline (no
model can be downloaded here) and only its pattern recognizers (the spaCy NER recognizer
removed); tldextract is kept offline. The plain-regex baseline is five precompiled regexes
(email, phone, card, SSN, IPv4) with no validation: a floor, not a guard.

Latency: each prompt checked alone, p50 and p95 of ``--prompts`` prompts (after a warm-up);
throughput: the same prompts through ``check_batch`` / ``analyze`` in one loop, prompts/s.
``ratio`` = Presidio's figure / airlock's (p95 latency) or airlock's / Presidio's
(throughput). Quality on the test split: false-positive rate on benign rows (any finding),
injection recall on attack rows (any injection finding), structured-PII recall (span level:
a labelled span counts as found when a finding of the same type overlaps it); Presidio's PII
recall is measured on the same spans for the types it has. ``--quick`` runs small sizes to
prove the benchmark works; its timings mean little.
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
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "guard-data"
TARGET_P95_MS = 5.0
TARGET_RATE = 1000.0
TARGETS = {"fpr_benign": 0.02, "injection_recall": 0.90, "pii_recall": 0.95}
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
                  "IBAN_CODE": "IBAN", "US_SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS"}
BASELINE = {
    "EMAIL": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    "PHONE": re.compile(r"\+?\d[\d ()-]{7,16}\d"),
    "CREDIT_CARD": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "US_SSN": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "IP_ADDRESS": re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
}


def load(split: str) -> list[dict[str, Any]]:
    with (DATA / f"{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def make_prompts(rows: list[dict[str, Any]], n: int, seed: int = 0) -> list[str]:
    """``n`` prompts of ~1 KB (UTF-8), each a seeded shuffle of test texts."""
    rng = random.Random(seed)
    texts = [r["text"] for r in rows]
    out = []
    for _ in range(n):
        parts: list[str] = []
        size = 0
        while size < 1000:
            t = rng.choice(texts)
            parts.append(t)
            size += len(t.encode()) + 1
        out.append(" ".join(parts).encode()[:1024].decode("utf-8", "ignore"))
    return out


def latencies(fn: Callable[[str], Any], prompts: Sequence[str]) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms of this thread) per prompt."""
    for p in prompts[:20]:
        fn(p)  # warm-up
    wall, cpu = [], []
    for p in prompts:
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(p)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.thread_time() - c0) * 1000.0)
    return wall, cpu


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def rate(fn: Callable[[Sequence[str]], Any], prompts: Sequence[str]) -> tuple[float, float]:
    """(prompts per wall second, prompts per CPU second of this thread)."""
    c0, t0 = time.thread_time(), time.perf_counter()
    fn(prompts)
    return (len(prompts) / (time.perf_counter() - t0),
            len(prompts) / max(time.thread_time() - c0, 1e-9))


def figures_of(lat: tuple[list[float], list[float]], rates: tuple[float, float]
               ) -> dict[str, Any]:
    wall, cpu = lat
    return {"p50_ms": statistics.median(wall), "p95_ms": p95(wall),
            "cpu_p50_ms": statistics.median(cpu), "cpu_p95_ms": p95(cpu),
            "prompts_per_s": rates[0], "cpu_prompts_per_s": rates[1]}


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


def quality(find: Callable[[str], list[tuple[str, int, int]]], rows: list[dict[str, Any]],
            injection: bool) -> dict[str, Any]:
    benign = [r for r in rows if r["label"] == "benign"]
    attacks = [r for r in rows if r["label"] == "attack"]
    spans = [(r, s) for r in rows if r["label"] == "pii" for s in r["spans"]]
    fp = sum(bool(find(r["text"])) for r in benign)
    out: dict[str, Any] = {"fpr_benign": fp / len(benign), "benign": len(benign),
                           "false_positives": fp}
    if injection:
        hit = sum(any(t in INJ for t, _, _ in find(r["text"])) for r in attacks)
        out.update(injection_recall=hit / len(attacks), attacks=len(attacks), attacks_found=hit)
    cache: dict[int, list[tuple[str, int, int]]] = {}
    found = 0
    for r, s in spans:
        fs = cache.setdefault(id(r), find(r["text"]))
        found += any(t == s["type"] and a < s["end"] and s["start"] < b for t, a, b in fs)
    out.update(pii_recall=found / len(spans), spans=len(spans), spans_found=found)
    return out


INJ = {"PROMPT_INJECTION", "JAILBREAK", "SYSTEM_PROMPT_EXTRACTION", "TOOL_HIJACK",
       "INDIRECT_INJECTION"}


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--prompts", type=int, default=None, help="prompts (default 3,000)")
    p.add_argument("--quick", action="store_true", help="small sizes: proves the bench runs")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write figures here")
    args = p.parse_args(argv)
    if args.prompts is not None and args.prompts < 50:
        p.error("--prompts must be at least 50")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from airlock.guard import Guard
    from airlock.guard._types import underlying_type

    n = args.prompts or (200 if args.quick else 3000)
    test = load("test")
    prompts = make_prompts(test, n)
    guard = Guard("default")

    def ours(text: str) -> list[tuple[str, int, int]]:
        return [(underlying_type(f), f.start, f.end) for f in guard.check(text).findings]

    lat = latencies(lambda t: guard.check(t), prompts)
    ours_rate = rate(lambda ps: guard.check_batch(ps), prompts)
    figures: dict[str, Any] = {
        "prompts": n, "quick": args.quick, "prompt_bytes_mean": statistics.mean(
            len(p.encode()) for p in prompts),
        "airlock": {**figures_of(lat, ours_rate), "quality": quality(ours, test, True)},
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    engine = presidio_engine()
    peer = "presidio" if engine is not None else "plain-regex"
    if engine is not None:
        def theirs(text: str) -> list[tuple[str, int, int]]:
            return [(PRESIDIO_TYPES.get(r.entity_type, r.entity_type), r.start, r.end)
                    for r in engine.analyze(text, language="en")]
        peer_find = theirs
    else:
        peer_find = baseline_find
    plat = latencies(peer_find, prompts)
    peer_rate = rate(lambda ps: [peer_find(p) for p in ps], prompts)
    figures[peer] = {**figures_of(plat, peer_rate),
                     "quality": quality(peer_find, test, False)}
    blat = latencies(baseline_find, prompts)
    figures["plain_regex"] = figures_of(blat, rate(lambda ps: [baseline_find(p) for p in ps],
                                                   prompts))
    report(figures, peer, args)
    return 0


def report(f: dict[str, Any], peer: str, args: argparse.Namespace) -> None:
    a, b = f["airlock"], f[peer]
    quick = " (QUICK: sizes too small to mean much)" if args.quick else ""
    print(f"airlock guard bench: {f['prompts']:,} prompts of ~{f['prompt_bytes_mean']:,.0f} "
          f"bytes, default policy, input stage, one core; peer {peer}; load average "
          f"{f['load_avg_1m'] or 0:.1f} on {f['cpus']} CPUs{quick}")
    print("  wall = elapsed time; cpu = this thread's CPU time (what one core spends, free of "
          "other processes on a shared machine); targets are judged on cpu, wall is shown too")
    ratio_lat = b["cpu_p95_ms"] / a["cpu_p95_ms"]
    print(f"case latency_1kb: airlock p50 {a['cpu_p50_ms']:.3f} ms p95 {a['cpu_p95_ms']:.3f} ms "
          f"(wall p95 {a['p95_ms']:.3f}) | {peer} p50 {b['cpu_p50_ms']:.3f} ms p95 "
          f"{b['cpu_p95_ms']:.3f} ms (wall p95 {b['p95_ms']:.3f}) | ratio {ratio_lat:,.1f}x | "
          f"target p95 <= {TARGET_P95_MS:g} ms | met? {verdict(a['cpu_p95_ms'] <= TARGET_P95_MS)}")
    ratio_rate = a["cpu_prompts_per_s"] / b["cpu_prompts_per_s"]
    print(f"case throughput: airlock {a['cpu_prompts_per_s']:,.0f} prompts/s (wall "
          f"{a['prompts_per_s']:,.0f}) | {peer} {b['cpu_prompts_per_s']:,.0f} prompts/s (wall "
          f"{b['prompts_per_s']:,.0f}) | ratio {ratio_rate:,.1f}x | target >= "
          f"{TARGET_RATE:,.0f}/s | met? {verdict(a['cpu_prompts_per_s'] >= TARGET_RATE)}")
    q, pq = a["quality"], b["quality"]
    print("quality on the held-out test split:")
    print(f"  {'metric':<18} {'airlock':>22} {peer:>22} {'target':>9} met?")
    rows = [("fpr_benign", "false_positives", "benign", "<="),
            ("injection_recall", "attacks_found", "attacks", ">="),
            ("pii_recall", "spans_found", "spans", ">=")]
    for key, num, den, op in rows:
        ours = f"{q[key]:.4f} ({q[num]}/{q[den]})"
        theirs = f"{pq[key]:.4f} ({pq[num]}/{pq[den]})" if key in pq else "n/a"
        ok = q[key] <= TARGETS[key] if op == "<=" else q[key] >= TARGETS[key]
        print(f"  {key:<18} {ours:>22} {theirs:>22} {op} {TARGETS[key]:<6} {verdict(ok)}")
    print(f"info plain-regex floor: cpu p50 {f['plain_regex']['cpu_p50_ms']:.3f} ms, p95 "
          f"{f['plain_regex']['cpu_p95_ms']:.3f} ms, {f['plain_regex']['cpu_prompts_per_s']:,.0f} "
          "prompts/s (five regexes, no validation, no injection rules)")
    if args.json is not None:
        args.json.write_text(json.dumps(f, indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
