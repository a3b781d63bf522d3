#!/usr/bin/env python
"""airlock's retrieval metrics vs ranx and pytrec_eval on the same run, with equal values.

    python bench/rag.py [--queries N] [--results R] [--quick] [--json PATH]

One process, one core. A seeded synthetic run: ``--queries`` queries (10,000) with
``--results`` ranked results each (100) drawn from a corpus of 200,000 doc ids, scores
descending per query as a retriever returns them; qrels of 1-8 graded docs per query
(grades 0-3), about half of them in the run. Metrics at k = 1, 5, 10: recall, precision,
nDCG, MAP@k, hit rate, plus MRR and MAP.

Timed (median of ``--repeat`` runs, each library from its own prepared input, built before
the clock starts): airlock ``retrieval_scores`` from the long columns (pyarrow string arrays
of query and doc ids, float scores), which includes encoding the ids;
pytrec_eval ``RelevanceEvaluator.evaluate(run)`` on the run dict (the evaluator built
beforehand from the qrels); ranx ``evaluate(qrels, run, metrics)`` on prebuilt ``Qrels`` /
``Run`` (numba compiled by a warm-up call). A second airlock figure has the rows shuffled
(so it sorts them). Values: per query, airlock's against pytrec_eval's (max abs difference)
and the means against ranx's; ``equal`` means within 1e-9. ``ratio`` = the peer's time /
airlock's. ``--quick`` runs a small size to prove the benchmark works; its timings mean
little.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _measure import timed  # noqa: E402

from airlock.llm import retrieval_scores  # noqa: E402

KS = (1, 5, 10)
TOL = 1e-9
TARGET_RATIO = 5.0
TREC = {"recall": "recall_{k}", "precision": "P_{k}", "ndcg": "ndcg_cut_{k}",
        "map": "map_cut_{k}", "hit_rate": "success_{k}"}
RANX = {"recall": "recall@{k}", "precision": "precision@{k}", "ndcg": "ndcg@{k}",
        "map": "map@{k}", "hit_rate": "hit_rate@{k}"}


def make_data(n_q: int, n_r: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    corpus = 200_000
    docs = rng.integers(0, corpus, size=(n_q, n_r * 2))
    # n_r distinct docs per query: sort each row's draws, drop repeats, keep n_r
    docs.sort(axis=1)
    docs[:, 1:][docs[:, 1:] == docs[:, :-1]] = -1
    picked = np.argsort(docs < 0, axis=1, kind="stable")[:, :n_r]
    run_docs = np.take_along_axis(docs, picked, axis=1)
    run_docs = np.take_along_axis(run_docs, rng.permuted(
        np.tile(np.arange(n_r), (n_q, 1)), axis=1), axis=1)
    scores = -np.sort(-rng.random((n_q, n_r)), axis=1)
    qids = np.char.add("q", np.arange(n_q).astype(str))
    rq = np.repeat(qids, n_r)
    rd = np.char.add("d", run_docs.ravel().astype(str))
    n_rel = rng.integers(1, 9, size=n_q)
    qq, qd, qg = [], [], []
    for q in range(n_q):  # data generation only: not timed
        inside = rng.choice(run_docs[q], size=n_rel[q] // 2 + 1, replace=False)
        outside = rng.integers(corpus, corpus * 2, size=n_rel[q] - len(inside))
        for d in np.unique(np.concatenate([inside, outside])):
            qq.append(qids[q])
            qd.append(f"d{d}")
            qg.append(int(rng.integers(0, 4)))
    return {"rq": rq, "rd": rd, "rs": scores.ravel(), "qq": np.array(qq), "qd": np.array(qd),
            "qg": np.array(qg, dtype=np.int64)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--results", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.quick:
        args.queries, args.results, args.repeat = 300, 20, 2
    d = make_data(args.queries, args.results, seed=0)
    cols = {k: pa.array(d[k]) for k in ("rq", "rd", "qq", "qd")}

    def ours() -> Any:
        return retrieval_scores(cols["rq"], cols["rd"], d["rs"], cols["qq"], cols["qd"],
                                d["qg"], ks=KS)

    shuffle = np.random.default_rng(1).permutation(len(d["rs"]))
    shuffled = {k: cols[k].take(pa.array(shuffle)) for k in ("rq", "rd")}

    def ours_shuffled() -> Any:
        return retrieval_scores(shuffled["rq"], shuffled["rd"], d["rs"][shuffle], cols["qq"],
                                cols["qd"], d["qg"], ks=KS)

    t_ours, scores = timed(ours, args.repeat)
    t_shuf, scores_shuf = timed(ours_shuffled, args.repeat)
    assert np.array_equal(scores.values, scores_shuf.values)
    figures: dict[str, Any] = {"quick": args.quick, "queries": args.queries,
                               "results": args.results, "rows": len(d["rs"]),
                               "python": platform.python_version(),
                               "airlock_s": t_ours, "airlock_shuffled_s": t_shuf}
    print(f"retrieval metrics: {args.queries:,} queries x {args.results} results "
          f"({len(d['rs']):,} rows), k = {', '.join(map(str, KS))}")
    print(f"case airlock: {t_ours * 1000:,.1f} ms (rows shuffled: {t_shuf * 1000:,.1f} ms)")
    qrels: dict[str, dict[str, int]] = {}
    for q, doc, g in zip(d["qq"].tolist(), d["qd"].tolist(), d["qg"].tolist(), strict=True):
        qrels.setdefault(q, {})[doc] = g
    run: dict[str, dict[str, float]] = {}
    for q, doc, s in zip(d["rq"].tolist(), d["rd"].tolist(), d["rs"].tolist(), strict=True):
        run.setdefault(q, {})[doc] = s
    ok = True
    ok &= _pytrec(figures, scores, qrels, run, t_ours, args.repeat)
    ok &= _ranx(figures, scores, qrels, run, t_ours, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if ok else 1


def _pytrec(figures: dict[str, Any], scores: Any, qrels: Any, run: Any, t_ours: float,
            repeat: int) -> bool:
    try:
        import pytrec_eval
    except ImportError:
        print("case pytrec_eval: not installed (pip install pytrec-eval-terrier)")
        return True
    cut = ",".join(map(str, KS))
    measures = {f"ndcg_cut.{cut}", f"recall.{cut}", f"P.{cut}", f"map_cut.{cut}",
                f"success.{cut}", "recip_rank", "map"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
    t, res = timed(lambda: evaluator.evaluate(run), repeat)
    diff = 0.0
    for j, name in enumerate(scores.names):
        metric, _, k = name.partition("@")
        key = TREC[metric].format(k=k) if k else {"mrr": "recip_rank", "map": "map"}[metric]
        theirs = np.array([res.get(q, {}).get(key, 0.0) for q in scores.queries])
        diff = max(diff, float(np.max(np.abs(theirs - scores.values[:, j]))))
    ratio = t / t_ours
    met = ratio >= TARGET_RATIO and diff <= TOL
    print(f"case pytrec_eval: {t * 1000:,.1f} ms | ratio {ratio:,.1f}x | max abs diff per "
          f"query {diff:.1e} | equal? {'yes' if diff <= TOL else 'NO'} | target >= "
          f"{TARGET_RATIO:g}x | met? {'yes' if met else 'NO'}")
    figures["pytrec_eval"] = {"seconds": t, "ratio": ratio, "max_abs_diff": diff}
    return diff <= TOL


def _ranx(figures: dict[str, Any], scores: Any, qrels: Any, run: Any, t_ours: float,
          repeat: int) -> bool:
    try:
        import ranx
    except ImportError:
        print("case ranx: not installed (pip install ranx)")
        return True
    rq, rr = ranx.Qrels(qrels), ranx.Run(run)
    names = [RANX[n.partition("@")[0]].format(k=n.partition("@")[2]) if "@" in n else
             {"mrr": "mrr", "map": "map"}[n] for n in scores.names]
    ranx.evaluate(rq, rr, names)  # numba compiles on the first call
    t, res = timed(lambda: ranx.evaluate(rq, rr, names), repeat)
    ours = scores.mean()
    diff = max(abs(float(res[r]) - ours[n]) for r, n in zip(names, scores.names, strict=True))
    ratio = t / t_ours
    met = ratio >= TARGET_RATIO and diff <= TOL
    print(f"case ranx: {t * 1000:,.1f} ms | ratio {ratio:,.1f}x | max abs diff of means "
          f"{diff:.1e} | equal? {'yes' if diff <= TOL else 'NO'} | target >= "
          f"{TARGET_RATIO:g}x | met? {'yes' if met else 'NO'}")
    figures["ranx"] = {"seconds": t, "ratio": ratio, "max_abs_diff": diff}
    return diff <= TOL


if __name__ == "__main__":
    sys.exit(main())
