"""The retrieval part of the demo: an index over the repository's own documentation (the
README, one document per ``##`` section, and the examples' READMEs), built with the shipped
embedder (all-MiniLM-L6-v2 on onnxruntime), evaluated on labelled questions
(examples/rag-cases.jsonl) with the RAG evaluation, and moved to its protected staging
alias only through the gate examples/rag-gate.yaml."""

from __future__ import annotations

import re
import time
from pathlib import Path

import polars as pl
from rich.console import Console

import airlock
from airlock.llm import build_index, evaluate_rag, load_rag_gate, query_index

console = Console()
ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
INDEX = "airlock-docs"
CASES = HERE / "rag-cases.jsonl"
POLICY = HERE / "rag-gate.yaml"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def documentation() -> pl.DataFrame:
    """``(doc_id, text)``: each ``##`` section of README.md as ``README.md#<slug>``, and
    every other README.md in examples/ whole (doc_id: its path in the repository)."""
    ids, texts = [], []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for part in re.split(r"(?m)^(?=## )", readme):
        title = part.splitlines()[0].removeprefix("## ").strip() if part.startswith("## ") \
            else "introduction"
        ids.append(f"README.md#{_slug(title)}")
        texts.append(part)
    for path in sorted((ROOT / "examples").rglob("README.md")):
        ids.append(path.relative_to(ROOT).as_posix())
        texts.append(path.read_text(encoding="utf-8"))
    return pl.DataFrame({"doc_id": ids, "text": texts})


def retrieval_index() -> bool:
    """Build, query, evaluate and gate the documentation index; True when staging moved."""
    started = time.perf_counter()
    docs = documentation()
    version = build_index(INDEX, docs, chunk=512, overlap=64,
                          description="airlock's own documentation, by README section")
    opts = version.manifest["options"]
    console.print(f"retrieval index {version.ref}: {opts['chunking']['chunks']} chunks of "
                  f"{docs.height} docs ({time.perf_counter() - started:.1f} s)")
    console.print(f"  embedder {opts['embedder']['ref']} (all-MiniLM-L6-v2, onnxruntime)")
    question = "How do I serve a model with a canary?"
    top = query_index(version.ref, question, k=1)[0]
    console.print(f"  {question!r} -> {top['chunk_id']} ({top['score']:.2f})")
    ev = evaluate_rag(CASES, version.ref, ks=(1, 5), n_boot=300)
    m = ev.metrics
    console.print(f"  {len(ev.records)} questions: hit_rate@5 {m['hit_rate@5']['value']:.2f}, "
                  f"mrr {m['mrr']['value']:.2f}, ndcg@5 {m['ndcg@5']['value']:.2f}")
    policy = load_rag_gate(POLICY)
    airlock.protect(INDEX, "staging", policy)  # the same policy again changes nothing
    decision = airlock.gate(ev.id, policy)
    if not decision.passed:
        failed = "; ".join(r.text for r in decision.failed)
        console.print(f"  gate {policy.name} failed ({failed}): staging stays")
        return False
    airlock.promote(version.ref, "staging")
    console.print(f"  gate {policy.name} passed: {INDEX}@staging -> {version.ref}")
    return True
