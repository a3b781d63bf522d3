#!/usr/bin/env python
"""Retrieval: embedding speed against its peers, and the index against exact search.

    python bench/retrieval.py [--chunks N] [--vectors N] [--queries N] [--data KIND]
                              [--torch-python PATH] [--smoke] [--json PATH]

**Embedding** (one core: onnxruntime ``intra_op_num_threads=1``, BLAS and torch at one
thread): ``--chunks`` real text chunks (README.md chunked as `airlock retrieval build` does,
512/64 characters, repeated to the count) embedded by airlock's embedder version (all-
MiniLM-L6-v2 as the ONNX graph it builds from the shipped weights, batches of 32 by
length); its peers on the same texts in the same run: the numpy reference encoder of the
same weights (airlock.guard, on a quarter of the chunks: it is slow) and, when
``--torch-python`` names a Python with torch and sentence-transformers installed (a
separate venv: airlock itself never imports torch), sentence-transformers on torch (CPU)
loading the same model folder, ``encode(batch_size=32)``. Figures: chunks/s, ratio =
airlock's chunks/s / the peer's, and the minimum cosine between airlock's and the peer's
embedding of each text (the target: >= 2x sentence-transformers at cosine >= 0.9999).

**Index**: ``--vectors`` synthetic unit vectors of 384 dimensions (``clustered``: around
1,000 random centres, as embeddings of a corpus are; ``uniform``: uniformly on the sphere,
the hardest case for a graph index) and ``--queries`` queries from the same distribution.
The index airlock builds above 20,000 chunks (faiss ``IndexHNSWFlat``, M 32,
efConstruction 80, built on one thread so its bytes are reproducible, efSearch 64) against
exact search (faiss ``IndexFlatIP``) in the same run: build seconds, queries/s (all queries
in one call, faiss's threads; and one query a call on one thread), recall@10 against the
exact top 10 (the target: >= 0.98 at >= 1,000 queries/s), and the same at a few other
efSearch values. ``--smoke`` runs tiny sizes to
prove the benchmark works; its timings mean little.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core for the numpy reference (before numpy loads)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))  # tests/minilm_numpy.py: the numpy reference encoder

from airlock.registry import EmbedderPredictor, minilm_embedder, open_embedder  # noqa: E402
from airlock.registry.flavors import get_flavor  # noqa: E402

BATCH = 32
TARGET_EMBED_RATIO = 2.0
TARGET_COSINE = 0.9999
TARGET_RECALL = 0.98
TARGET_QPS = 1000.0
DIM = 384
EF_SWEEP = (16, 32, 128)

PEER = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
from sentence_transformers import SentenceTransformer
model_dir, texts_file, out_file = sys.argv[1:4]
texts = json.load(open(texts_file))
model = SentenceTransformer(model_dir, device="cpu")
model.encode(texts[:8], batch_size=32)
start = time.perf_counter()
emb = model.encode(texts, batch_size=32, convert_to_numpy=True)
seconds = time.perf_counter() - start
np.save(out_file, emb.astype(np.float32))
print(json.dumps({"seconds": seconds, "torch": torch.__version__,
                  "sentence_transformers": __import__("sentence_transformers").__version__}))
"""


def readme_chunks(n: int) -> list[str]:
    from airlock.llm import read_corpus
    from airlock.llm._chunks import chunk_corpus

    corpus = read_corpus({"doc_id": ["README.md"],
                          "text": [(ROOT / "README.md").read_text(encoding="utf-8")]})
    texts = chunk_corpus(corpus, 512, 64).column("text").to_pylist()
    return [texts[i % len(texts)] for i in range(n)]


def open_default(tmp: Path) -> tuple[EmbedderPredictor, Path]:
    flavor = get_flavor("embedder")
    options = flavor.save(minilm_embedder(), tmp, serialization=None)
    return open_embedder(tmp, options, threads=1), tmp


def chunks_per_s(fn: Any, n: int) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return n / (time.perf_counter() - start), out


def min_cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float((num / np.maximum(den, 1e-12)).min())


def bench_embedding(n: int, torch_python: str | None) -> dict[str, Any]:
    from tests.minilm_numpy import MiniLmEncoder

    from airlock.registry.flavors._minilm import minilm_dir

    texts = readme_chunks(n)
    with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
        embedder, _ = open_default(Path(tmp))
        embedder.encode(texts[:8], batch_size=BATCH)  # warm-up
        ours, emb = chunks_per_s(lambda: embedder.encode(texts, batch_size=BATCH), n)
    tokens = float(np.mean([len(embedder.tokenizer.encode(t).ids) for t in texts]))
    out: dict[str, Any] = {"chunks": n, "mean_tokens": round(tokens, 1),
                           "airlock_chunks_per_s": ours, "peers": {}}
    ref_n = max(4, n // 4)
    reference = MiniLmEncoder()
    reference.encode(texts[:4])
    theirs, ref = chunks_per_s(lambda: reference.encode(texts[:ref_n], batch_size=BATCH),
                               ref_n)
    out["peers"]["numpy reference"] = {"chunks": ref_n, "chunks_per_s": theirs,
                                       "ratio": ours / theirs,
                                       "min_cosine": min_cosine(emb[:ref_n], ref)}
    if torch_python:
        with tempfile.TemporaryDirectory(prefix="airlock-bench-") as tmp:
            texts_file, emb_file = Path(tmp) / "texts.json", Path(tmp) / "peer.npy"
            texts_file.write_text(json.dumps(texts))
            proc = subprocess.run([torch_python, "-c", PEER, str(minilm_dir()),
                                   str(texts_file), str(emb_file)], capture_output=True,
                                  text=True, check=False, timeout=3600,
                                  env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            if proc.returncode != 0:
                raise SystemExit(f"the torch peer failed:\n{proc.stderr[-2000:]}")
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            peer = np.load(emb_file)
        rate = n / info["seconds"]
        out["peers"]["sentence-transformers (torch)"] = {
            "chunks": n, "chunks_per_s": rate, "ratio": ours / rate,
            "min_cosine": min_cosine(emb, peer), "torch": info["torch"],
            "sentence_transformers": info["sentence_transformers"]}
    return out


def synthetic(n: int, nq: int, kind: str, seed: int = 0
              ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)

    def unit(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        out: np.ndarray[Any, Any] = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(
            np.float32)
        return out

    if kind == "uniform":
        return unit(rng.standard_normal((n, DIM))), unit(rng.standard_normal((nq, DIM)))
    centres = unit(rng.standard_normal((1000, DIM)))
    base = unit(centres[rng.integers(0, 1000, n)] + 0.08 * rng.standard_normal((n, DIM)))
    queries = unit(centres[rng.integers(0, 1000, nq)] + 0.08 * rng.standard_normal((nq, DIM)))
    return base, queries


def bench_index(n: int, nq: int, kind: str, k: int = 10) -> dict[str, Any]:
    import faiss

    from airlock.registry.flavors._index import HNSW_EF_SEARCH, build_faiss

    base, queries = synthetic(n, nq, kind)
    threads = os.cpu_count() or 1  # OMP_NUM_THREADS=1 above is for the embedding peers
    faiss.omp_set_num_threads(threads)
    start = time.perf_counter()
    exact = build_faiss(base, "flat")
    exact_build = time.perf_counter() - start
    start = time.perf_counter()
    hnsw = build_faiss(base, "hnsw")
    hnsw_build = time.perf_counter() - start
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    out: dict[str, Any] = {"vectors": n, "queries": nq, "data": kind, "k": k,
                           "threads": threads, "ef_search": HNSW_EF_SEARCH}
    start = time.perf_counter()
    _, truth = exact.search(queries, k)
    exact_qps = nq / (time.perf_counter() - start)
    start = time.perf_counter()
    _, got = hnsw.search(queries, k)
    hnsw_qps = nq / (time.perf_counter() - start)
    single = queries[: min(nq, 500)]
    faiss.omp_set_num_threads(1)
    try:
        start = time.perf_counter()
        for i in range(len(single)):
            hnsw.search(single[i:i + 1], k)
        hnsw_qps_1 = len(single) / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(len(single)):
            exact.search(single[i:i + 1], k)
        exact_qps_1 = len(single) / (time.perf_counter() - start)
    finally:
        faiss.omp_set_num_threads(threads)
    sweep = {}
    for ef in EF_SWEEP:  # the speed / recall trade-off around the default
        hnsw.hnsw.efSearch = ef
        start = time.perf_counter()
        _, at_ef = hnsw.search(queries, k)
        sweep[ef] = {"qps": nq / (time.perf_counter() - start), "recall_at_10": _recall(
            at_ef, truth, k)}
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    out["ef_sweep"] = sweep
    hits = [len(set(got[i]) & set(truth[i])) for i in range(nq)]
    out.update({"hnsw_build_s": hnsw_build, "exact_build_s": exact_build,
                "hnsw_qps": hnsw_qps, "exact_qps": exact_qps, "hnsw_qps_1_thread": hnsw_qps_1,
                "exact_qps_1_thread": exact_qps_1, "recall_at_10": float(np.sum(hits))
                / (nq * k)})
    return out


def _recall(got: np.ndarray[Any, Any], truth: np.ndarray[Any, Any], k: int) -> float:
    return float(sum(len(set(g) & set(t)) for g, t in zip(got, truth, strict=True))) / (
        len(truth) * k)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--chunks", type=int, default=512)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--data", choices=("clustered", "uniform"), default="clustered")
    parser.add_argument("--torch-python", default=os.environ.get("AIRLOCK_BENCH_TORCH_PYTHON"),
                        help="a Python with torch and sentence-transformers (the peer)")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.smoke:
        args.chunks, args.vectors, args.queries = 16, 3000, 200
    print(f"retrieval benchmark on {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}{' (smoke)' if args.smoke else ''}")
    emb = bench_embedding(args.chunks, args.torch_python)
    print(f"embedding {emb['chunks']} chunks ({emb['mean_tokens']:.0f} tokens on average), "
          f"one core:")
    print(f"  airlock (onnxruntime): {emb['airlock_chunks_per_s']:,.1f} chunks/s")
    for name, p in emb["peers"].items():
        print(f"  {name}: {p['chunks_per_s']:,.1f} chunks/s | ratio {p['ratio']:.2f}x | "
              f"min cosine {p['min_cosine']:.6f}")
    if not args.torch_python:
        print("  sentence-transformers (torch): not run (pass --torch-python PATH)")
    idx = bench_index(args.vectors, args.queries, args.data)
    print(f"index of {idx['vectors']:,} {args.data} vectors, {idx['queries']:,} queries, "
          f"k {idx['k']}:")
    print(f"  build: HNSW {idx['hnsw_build_s']:.1f} s (one thread), exact "
          f"{idx['exact_build_s']:.2f} s")
    print(f"  queries/s ({idx['threads']} threads, all in one call): HNSW {idx['hnsw_qps']:,.0f}, "
          f"exact {idx['exact_qps']:,.0f} | ratio {idx['hnsw_qps'] / idx['exact_qps']:.1f}x")
    print(f"  queries/s (one thread, one a call): HNSW {idx['hnsw_qps_1_thread']:,.0f}, "
          f"exact {idx['exact_qps_1_thread']:,.0f} | ratio "
          f"{idx['hnsw_qps_1_thread'] / idx['exact_qps_1_thread']:.1f}x")
    print(f"  recall@10 against exact: {idx['recall_at_10']:.4f} at efSearch "
          f"{idx['ef_search']} (target >= {TARGET_RECALL} at >= {TARGET_QPS:,.0f} q/s)")
    print("  other efSearch: " + ", ".join(
        f"{ef}: {v['qps']:,.0f} q/s recall {v['recall_at_10']:.4f}"
        for ef, v in idx["ef_sweep"].items()))
    if args.json:
        args.json.write_text(json.dumps({"smoke": args.smoke, "embedding": emb,
                                         "index": idx}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
