"""`airlock.llm.evaluate_rag` on a registered pyfunc retriever over a fixed corpus: the
retrieval metrics equal pytrec_eval's on the doc ranking, chunks count once per doc,
context precision/recall from ids, groundedness with the real MiniLM encoder (the invented
sentence is listed unsupported), exact match / token F1, storage as an evaluation of task
``rag`` with a gate on ``ci_low``, the report, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytrec_eval
from tests.integration import rag_toy

import airlock
from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.llm import (
    MSG_ANSWER_ID,
    MSG_NO_QUERY,
    MSG_RETRIEVER_COLUMNS,
    evaluate_rag,
    render_rag_report,
)
from airlock.store import get_store

CASES: list[dict[str, Any]] = [
    {"id": "fr", "query": "What is the capital of France?", "relevant": ["paris.md"],
     "reference_answer": "Paris is the capital of France."},
    {"id": "de", "query": "Where is the Brandenburg Gate?",
     "relevant": [{"id": "berlin.md", "grade": 2}, {"id": "paris.md", "grade": 0}],
     "reference_answer": "In Berlin"},
    {"id": "it", "query": "Which amphitheatre is in Rome?", "relevant": ["rome.md"]},
    {"id": "moon", "query": "What is the moon made of?", "relevant": ["moon.md"],
     "reference_answer": "Rock"},
    {"id": "none", "query": "Tell me about yellow bananas", "relevant": []},
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def kb() -> str:
    return airlock.register_model("kb", rag_toy.retrieve).ref


def test_retrieval_metrics_equal_pytrec_eval_on_the_doc_ranking(kb: str) -> None:
    ev = evaluate_rag(CASES, kb, ks=(1, 3), n_boot=0, store=False)
    assert ev.ks == (1, 3) and [r["id"] for r in ev.records] == [c["id"] for c in CASES]
    # the oracle's run: each doc once, at its best chunk's rank, from the toy retriever
    out = rag_toy.retrieve({"query": [c["query"] for c in CASES]})
    run: dict[str, dict[str, float]] = {}
    for q, rank, doc in zip(out["query"], out["rank"], out["doc_id"], strict=True):
        cid = next(c["id"] for c in CASES if c["query"] == q)
        run.setdefault(cid, {}).setdefault(doc, -float(rank))
    qrels = {c["id"]: {(r if isinstance(r, str) else r["id"]):
                       (1 if isinstance(r, str) else r["grade"]) for r in c["relevant"]}
             or {"unused": 0} for c in CASES}
    want = pytrec_eval.RelevanceEvaluator(
        qrels, {"ndcg_cut.1,3", "recall.1,3", "P.1,3", "recip_rank", "map"}).evaluate(run)
    for rec in ev.records:
        got, exp = rec["metrics"], want[rec["id"]]
        for ours, theirs in (("ndcg@3", "ndcg_cut_3"), ("recall@1", "recall_1"),
                             ("precision@3", "P_3"), ("mrr", "recip_rank"), ("map", "map")):
            assert abs(got[ours] - exp[theirs]) <= 1e-9, (rec["id"], ours)
        docs = [r["doc_id"] for r in rec["retrieved"]]
        assert len(rec["retrieved"]) == 3  # the top max-k chunks are kept
        assert docs == [d for d in out["doc_id"][out["query"].index(rec["query"]):][:3]]
    means = {m: np.mean([r["metrics"][m] for r in ev.records]) for m in ("ndcg@3", "mrr")}
    assert ev.metrics["ndcg@3"]["value"] == pytest.approx(means["ndcg@3"], abs=1e-12)
    assert ev.metrics["mrr"]["value"] == pytest.approx(means["mrr"], abs=1e-12)


def test_context_metrics_groundedness_and_reference_scores(kb: str) -> None:
    ev = evaluate_rag(CASES, kb, ks=(1, 2), model=rag_toy.answer, embed=rag_toy.embed,
                      n_boot=200, store=False)
    by = {r["id"]: r for r in ev.records}
    fr = by["fr"]
    assert fr["answer"] == "Paris is the capital of France."
    assert fr["metrics"]["exact_match"] == 1.0 and fr["metrics"]["token_f1"] == 1.0
    top_docs = {r["doc_id"] for r in fr["retrieved"][:2]}
    assert fr["metrics"]["context_precision"] == pytest.approx(len(top_docs & {"paris.md"})
                                                               / len(top_docs))
    assert fr["metrics"]["context_recall"] == 1.0
    assert fr["metrics"]["groundedness"] == 1.0 and fr["unsupported"] == []
    moon = by["moon"]  # the invented sentence has no support in any retrieved chunk
    assert moon["unsupported"] == ["The moon is made of green cheese."]
    assert moon["metrics"]["groundedness"] == pytest.approx(0.5)
    assert moon["metrics"]["context_recall"] == 0.0
    assert by["none"]["metrics"]["context_recall"] is None  # nothing relevant: undefined
    assert "exact_match" not in by["it"]["metrics"]  # no reference answer
    assert ev.metrics["context_recall"]["denominator"] == 4
    assert ev.metrics["exact_match"]["denominator"] == 3
    g = ev.metrics["groundedness"]
    assert g["ci_low"] <= g["value"] <= g["ci_high"]
    assert ev.prompt is not None and len(ev.prompt["sha256"]) == 64


def test_stored_gated_on_ci_low_and_reported(kb: str, tmp_path: Path) -> None:
    ev = evaluate_rag(CASES, kb, n_boot=300)
    again = evaluate_rag(CASES, kb, n_boot=300)
    assert ev.stored and not again.stored and again.to_dict() == ev.to_dict()
    stored = get_store().evaluations.get(ev.id)
    assert stored["task"] == "rag" and stored["model"]["ref"] == "kb@1"
    assert stored["overall"] == ev.metrics
    assert [e["id"] for e in get_store().evaluations.list_for("kb", 1)] == [ev.id]
    low = ev.metrics["ndcg@10"]["ci_low"]
    assert low < ev.metrics["ndcg@10"]["value"]
    passing = ev.gate(f"rules:\n  - {{metric: ndcg@10, min: {low - 0.01}, use: ci_low}}\n")
    failing = ev.gate(f"rules:\n  - {{metric: ndcg@10, min: {low + 0.01}, use: ci_low}}\n")
    assert passing.passed and not failing.passed
    with pytest.raises(UsageError, match=r"unknown metric .roc_auc."):
        ev.gate("rules:\n  - {metric: roc_auc, min: 0.5}\n")
    html = render_rag_report(ev, failing)
    assert "Worst" in html and "moon.md" in html and "FAILED" in html


def test_two_versions_with_the_same_files_get_an_evaluation_each(kb: str) -> None:
    # the id names the version: byte-identical files once shared one stored evaluation,
    # and the second version then had none to be gated or promoted on
    second = airlock.register_model("kb", rag_toy.retrieve)
    assert second.manifest["sha256"] == airlock.get_model_version(kb).manifest["sha256"]
    first, other = evaluate_rag(CASES, kb, n_boot=50), evaluate_rag(CASES, second.ref, n_boot=50)
    assert first.id != other.id and first.stored and other.stored
    assert [e["id"] for e in get_store().evaluations.list_for("kb", 2)] == [other.id]


def test_bad_input(kb: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        evaluate_rag(CASES, "no-such-kb@1", store=False)
    bad = write_jsonl(tmp_path / "c.jsonl", [CASES[0], {"relevant": ["a"]}])
    with pytest.raises(InvalidInput) as err:
        evaluate_rag(bad, kb, store=False)
    assert str(err.value) == MSG_NO_QUERY.format(where="c.jsonl line 2")
    (tmp_path / "broken.jsonl").write_text(json.dumps(CASES[0]) + "\n{oops\n")
    with pytest.raises(InvalidInput, match=r"broken\.jsonl line 2"):
        evaluate_rag(tmp_path / "broken.jsonl", kb, store=False)
    answers = write_jsonl(tmp_path / "a.jsonl", [{"id": "fr", "answer": "Paris"},
                                                 {"id": "xx", "answer": "?"}])
    with pytest.raises(InvalidInput) as err:
        evaluate_rag(CASES, kb, answers=answers, store=False)
    assert str(err.value) == MSG_ANSWER_ID.format(where="a.jsonl line 2", id="xx")
    with pytest.raises(InvalidInput, match="k must be a list"):
        evaluate_rag(CASES, kb, ks=[0], store=False)
    not_a_retriever = airlock.register_model("scores", rag_toy.lengths).ref
    with pytest.raises(InvalidInput) as err:
        evaluate_rag(CASES, not_a_retriever, store=False)
    assert str(err.value) == MSG_RETRIEVER_COLUMNS.format(ref="scores@1", got=["prediction"])
