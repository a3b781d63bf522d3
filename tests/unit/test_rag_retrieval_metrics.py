"""Retrieval metrics (``airlock.llm.retrieval_scores``) against pytrec_eval (trec_eval 9)
as the oracle, per query, to 1e-9; invariants with Hypothesis; bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

import airlock.llm._retrieval as retrieval
from airlock.errors import InvalidInput
from airlock.llm import retrieval_scores

KS = (1, 3, 5, 10)
TREC = {"recall": "recall_{k}", "precision": "P_{k}", "ndcg": "ndcg_cut_{k}",
        "map": "map_cut_{k}", "hit_rate": "success_{k}"}
MEASURES = {"ndcg_cut.1,3,5,10", "recall.1,3,5,10", "P.1,3,5,10", "map_cut.1,3,5,10",
            "success.1,3,5,10", "recip_rank", "map"}


def oracle(run: list[tuple[str, str, float]], qrels: list[tuple[str, str, int]]
           ) -> dict[str, dict[str, float]]:
    q: dict[str, dict[str, int]] = {}
    for a, b, g in qrels:
        q.setdefault(a, {})[b] = g
    r: dict[str, dict[str, float]] = {}
    for a, b, s in run:
        r.setdefault(a, {})[b] = s
    out: dict[str, dict[str, float]] = pytrec_eval.RelevanceEvaluator(q, MEASURES).evaluate(r)
    return out


def trec_key(name: str) -> str:
    metric, _, k = name.partition("@")
    return TREC[metric].format(k=k) if k else {"mrr": "recip_rank", "map": "map"}[metric]


def ours(run: list[tuple[str, str, float]], qrels: list[tuple[str, str, int]],
         ks: Any = KS) -> retrieval.RetrievalScores:
    return retrieval_scores([r[0] for r in run], [r[1] for r in run],
                            np.array([r[2] for r in run], dtype=float),
                            [q[0] for q in qrels], [q[1] for q in qrels],
                            np.array([q[2] for q in qrels], dtype=np.int64), ks=ks)


def assert_equal_to_oracle(run: list[tuple[str, str, float]],
                           qrels: list[tuple[str, str, int]]) -> retrieval.RetrievalScores:
    got = ours(run, qrels)
    want = oracle(run, qrels)
    assert got.queries == list(dict.fromkeys(q[0] for q in qrels))
    for i, query in enumerate(got.queries):
        for j, name in enumerate(got.names):
            expected = want.get(query, {}).get(trec_key(name), 0.0)  # absent: trec_eval -c
            assert abs(got.values[i, j] - expected) <= 1e-9, (query, name, got.values[i, j],
                                                             expected)
    return got


def random_case(rng: np.random.Generator, n_q: int, n_r: int, n_docs: int, ties: bool
                ) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, int]]]:
    run, qrels = [], []
    for q in range(n_q):
        docs = rng.choice(n_docs, size=min(n_r, n_docs), replace=False)
        scores = rng.integers(0, 3, len(docs)) if ties else rng.random(len(docs))
        run += [(f"q{q}", f"doc-{d}", float(s)) for d, s in zip(docs, scores, strict=True)]
        judged = rng.choice(n_docs, size=int(rng.integers(1, 7)), replace=False)
        qrels += [(f"q{q}", f"doc-{d}", int(rng.integers(0, 4))) for d in judged]
    return run, qrels


@pytest.mark.parametrize("ties", [False, True])
def test_every_metric_equals_pytrec_eval_per_query(ties: bool) -> None:
    run, qrels = random_case(np.random.default_rng(7), 80, 15, 40, ties)
    got = assert_equal_to_oracle(run, qrels)
    assert got.names == [f"{m}@{k}" for k in KS for m in
                         ("recall", "precision", "ndcg", "map", "hit_rate")] + ["mrr", "map"]


def test_hand_computed_query_ties_broken_by_descending_doc_id() -> None:
    # b first (0.9); a and c tie at 0.5: trec_eval ranks c before a (descending doc id)
    run = [("q", "a", 0.5), ("q", "b", 0.9), ("q", "c", 0.5), ("q", "d", 0.1)]
    qrels = [("q", "a", 2), ("q", "b", 1), ("q", "c", 0), ("q", "z", 1)]
    got = ours(run, qrels, ks=[1, 2, 3])
    row = dict(zip(got.names, got.values[0], strict=True))
    assert row["precision@2"] == pytest.approx(0.5)  # b, c
    assert row["precision@3"] == pytest.approx(2 / 3)
    assert row["recall@3"] == pytest.approx(2 / 3)  # a and b of a, b, z
    assert row["ndcg@1"] == pytest.approx(0.5)  # gain 1 vs the ideal's 2
    dcg3 = 1 + 2 / np.log2(4)
    idcg3 = 2 + 1 / np.log2(3) + 1 / np.log2(4)
    assert row["ndcg@3"] == pytest.approx(dcg3 / idcg3)
    assert row["mrr"] == 1.0 and row["hit_rate@1"] == 1.0
    assert row["map"] == pytest.approx((1 + 2 / 3) / 3)
    assert_equal_to_oracle(run, qrels)


def test_queries_without_results_or_relevant_docs_score_zero() -> None:
    run = [("q1", "a", 1.0), ("q2", "a", 1.0), ("other", "a", 1.0)]
    qrels = [("q1", "a", 1), ("q2", "a", 0), ("q3", "a", 1)]
    got = ours(run, qrels)
    assert got.queries == ["q1", "q2", "q3"]  # the run's "other" is ignored
    assert got.values[0, got.names.index("mrr")] == 1.0
    assert not got.values[1:].any()
    assert got.relevant.tolist() == [1, 0, 1] and got.retrieved.tolist() == [1, 1, 0]


def test_shuffled_rows_give_the_same_values() -> None:
    run, qrels = random_case(np.random.default_rng(3), 40, 12, 30, True)
    perm = np.random.default_rng(4).permutation(len(run))
    a = ours(run, qrels)
    b = ours([run[i] for i in perm], qrels)
    assert np.array_equal(a.values, b.values)


def test_hash_collisions_fall_back_to_the_exact_join(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pair hashing alike forces the exact (dictionary-code) join: same values."""
    run, qrels = random_case(np.random.default_rng(5), 30, 10, 25, False)
    expected = ours(run, qrels)
    monkeypatch.setattr(retrieval, "_pair_hash",
                        lambda q, d: np.zeros(len(q), dtype=np.uint64))
    got = ours(run, qrels)
    assert np.array_equal(got.values, expected.values)
    with pytest.raises(InvalidInput, match="ranked twice"):
        ours([*run, run[0]], qrels)


def test_pyarrow_and_numpy_columns_are_accepted() -> None:
    run, qrels = random_case(np.random.default_rng(9), 10, 5, 10, False)
    a = ours(run, qrels)
    b = retrieval_scores(pa.array([r[0] for r in run]), np.array([r[1] for r in run]),
                         pa.array([r[2] for r in run]), pa.chunked_array([[q[0] for q in qrels]]),
                         [q[1] for q in qrels], [q[2] for q in qrels], ks=KS)
    assert np.array_equal(a.values, b.values)


@pytest.mark.parametrize("ks", [[], [0], [1, -2], [1.5], [True]])
def test_bad_cutoffs_are_refused(ks: list[Any]) -> None:
    with pytest.raises(InvalidInput) as err:
        ours([("q", "a", 1.0)], [("q", "a", 1)], ks=ks)
    assert str(err.value) == retrieval.MSG_BAD_K.format(got=ks)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        ours([("q", "a", 1.0), ("q", "a", 0.5)], [("q", "a", 1)])
    assert str(err.value) == retrieval.MSG_DUPLICATE_DOC.format(doc="a", query="q")
    with pytest.raises(InvalidInput) as err:
        ours([("q", "a", 1.0)], [("q", "a", 1), ("q", "a", 2)])
    assert str(err.value) == retrieval.MSG_GRADED_TWICE.format(doc="a", query="q")
    for grade in (-1, 1.5, float("nan")):
        with pytest.raises(InvalidInput) as err:
            retrieval_scores(["q"], ["a"], [1.0], ["q"], ["a"], np.array([grade]), ks=[1])
        assert str(err.value).startswith("relevance grades must be whole numbers >= 0")
    with pytest.raises(InvalidInput, match="finite"):
        retrieval_scores(["q"], ["a"], [float("nan")], ["q"], ["a"], [1], ks=[1])


pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 12), st.integers(0, 3)),
                 min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(run_rows=pairs, judged=pairs)
def test_invariants_and_oracle_on_random_runs(run_rows: list[tuple[int, int, int]],
                                              judged: list[tuple[int, int, int]]) -> None:
    run = list({(f"q{q}", f"d{d}"): (f"q{q}", f"d{d}", float(s)) for q, d, s in run_rows}
               .values())
    qrels = list({(f"q{q}", f"d{d}"): (f"q{q}", f"d{d}", g) for q, d, g in judged}.values())
    got = assert_equal_to_oracle(run, qrels)
    v = got.values
    assert np.all((v >= 0) & (v <= 1 + 1e-12))
    for metric in ("recall", "hit_rate"):
        cols = v[:, [got.names.index(f"{metric}@{k}") for k in KS]]
        assert np.all(np.diff(cols, axis=1) >= -1e-12)  # monotone in k
    for k in KS:  # a hit when anything relevant is found; recall > 0 exactly then
        hit = v[:, got.names.index(f"hit_rate@{k}")]
        assert np.array_equal(hit > 0, v[:, got.names.index(f"recall@{k}")] > 0)
