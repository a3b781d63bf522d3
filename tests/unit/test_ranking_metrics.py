"""Ranking metrics: NDCG@k equal to scikit-learn per query, MRR and recall@k equal to a
direct per-query reference (and, with tied scores, to the mean over all tie orderings);
bootstrap over queries."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from sklearn.metrics import ndcg_score

from airlock.errors import InvalidInput
from airlock.evaluation._ranking import RankingTask, _per_query
from airlock.evaluation._types import Target

TOL = 1e-12
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

Arr = np.ndarray[Any, Any]


def _queries(seed: int, n_queries: int = 120, max_size: int = 30, ties: bool = False,
             min_size: int = 2) -> tuple[Arr, Arr, Arr]:
    """Shuffled rows of queries with sparse graded relevance (some queries have none)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(min_size, max_size + 1, n_queries)
    ids = rng.permutation(n_queries) * 7 + 3  # sparse, unordered query ids
    query = np.repeat(ids, sizes).astype(np.int64)
    n = len(query)
    y = rng.integers(0, 4, n) * (rng.random(n) < 0.3)
    signal = y + rng.normal(0, 1.5, n)
    score = np.round(signal) if ties else signal
    perm = rng.permutation(n)
    return y[perm].astype(np.float64), score[perm], query[perm]


def reference(y: Arr, score: Arr, k: int) -> tuple[float, float, float]:
    """One query without ties: ndcg@k (scikit-learn), reciprocal rank, recall@k."""
    order = np.argsort(-score, kind="stable")
    rel = y[order] > 0
    rr = 1.0 / (np.argmax(rel) + 1) if rel.any() else 0.0
    recall = rel[:k].sum() / rel.sum() if rel.any() else np.nan
    return float(ndcg_score([y], [score], k=k)), rr, recall


def per_query_reference(y: Arr, score: Arr, query: Arr, k: int) -> dict[int, tuple[float, ...]]:
    return {int(q): reference(y[query == q], score[query == q], k) for q in np.unique(query)}


def group_means(ref: dict[int, tuple[float, ...]], qgroup: dict[int, int],
                n_groups: int) -> list[dict[str, float]]:
    out = []
    for g in range(n_groups):
        rows = np.array([v for q, v in ref.items() if qgroup[q] == g])
        recall = rows[:, 2][~np.isnan(rows[:, 2])]
        out.append({"ndcg": rows[:, 0].mean(), "mrr": rows[:, 1].mean(),
                    "recall": recall.mean() if len(recall) else np.nan})
    return out


def assert_close(got: float | None, expected: float) -> None:
    if np.isnan(expected):
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=TOL, abs=TOL)


# ------------------------------------------------------------------- equal to the references

@pytest.mark.parametrize("k", [1, 3, 10, 50])
@pytest.mark.parametrize("seed", [0, 1])
def test_point_metrics_equal_references_overall_and_per_group(seed: int, k: int) -> None:
    y, score, query = _queries(seed)
    qgroup = {int(q): int(q) % 3 for q in np.unique(query)}
    codes = np.array([qgroup[int(q)] for q in query], dtype=np.int64)
    ref = per_query_reference(y, score, query, k)
    task = RankingTask(k=k)
    t = Target(y=y, pred=score, query=query)
    overall = task.grouped(t, np.zeros(len(y), np.int64), 1, n_boot=0, seed=0,
                           confidence=0.95)
    groups = task.grouped(t, codes, 3, n_boot=0, seed=0, confidence=0.95)
    expected = group_means(ref, dict.fromkeys(qgroup, 0), 1) + group_means(ref, qgroup, 3)
    for got, exp in zip(overall + groups, expected, strict=True):
        assert_close(got[f"ndcg@{k}"]["value"], exp["ndcg"])
        assert_close(got["mrr"]["value"], exp["mrr"])
        assert_close(got[f"recall@{k}"]["value"], exp["recall"])


def test_ndcg_with_tied_scores_equals_sklearn_tie_averaging() -> None:
    y, score, query = _queries(5, ties=True)
    assert len(np.unique(score)) < 15  # many ties
    for k in (1, 2, 5, 100):
        pq = _per_query(y, score, query, k)
        expected = [ndcg_score([y[query == q]], [score[query == q]], k=k)
                    for q in np.unique(query)]
        assert pq.ndcg == pytest.approx(expected, rel=TOL, abs=TOL)


def _orderings(y: Arr, score: Arr, k: int) -> tuple[float, float]:
    """Mean reciprocal rank and recall@k over every ordering consistent with the scores."""
    rr, recall, count = 0.0, 0.0, 0
    for perm in itertools.permutations(range(len(y))):
        s, rel = score[list(perm)], y[list(perm)] > 0
        if np.any(np.diff(s) > 0):
            continue
        count += 1
        rr += 1.0 / (np.argmax(rel) + 1) if rel.any() else 0.0
        recall += rel[:k].sum() / rel.sum() if rel.any() else np.nan
    return rr / count, recall / count


def test_mrr_and_recall_with_ties_are_the_mean_over_tie_orderings() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 8, 60)
    query = np.repeat(np.arange(60), sizes)
    y = (rng.integers(0, 3, len(query)) * (rng.random(len(query)) < 0.4)).astype(np.float64)
    score = rng.integers(0, 3, len(query)).astype(np.float64)
    for k in (1, 2, 4):
        pq = _per_query(y, score, query, k)
        for q in range(60):
            m = query == q
            rr, recall = _orderings(y[m], score[m], k)
            assert pq.rr[q] == pytest.approx(rr, rel=TOL, abs=TOL)
            if np.isnan(recall):
                assert np.isnan(pq.recall[q])
            else:
                assert pq.recall[q] == pytest.approx(recall, rel=TOL, abs=TOL)


def test_constant_scores_give_the_expected_reciprocal_rank() -> None:
    """m rows, r relevant, all tied: E[1/rank of first relevant] in closed form."""
    y = np.array([0, 1, 0, 0, 1, 0, 0, 0], dtype=np.float64)
    pq = _per_query(y, np.zeros(8), np.zeros(8, np.int64), 3)
    m = 8  # r = 2 relevant: P(first relevant at j) = C(m - j, 1) / C(m, 2)
    expected = sum((m - j) / (m * (m - 1) / 2) / j for j in range(1, m))
    assert pq.rr[0] == pytest.approx(expected, rel=TOL)
    assert pq.recall[0] == pytest.approx(3 / 8, rel=TOL)  # E[relevant in top 3] / 2


def test_queries_without_relevant_rows() -> None:
    y = np.array([0, 0, 0, 2, 0, 1], dtype=np.float64)
    score = np.array([0.9, 0.1, 0.5, 0.2, 0.8, 0.3])
    query = np.array([1, 1, 1, 2, 2, 2], dtype=np.int64)
    codes = np.array([0, 0, 0, 1, 1, 1], dtype=np.int64)
    res = RankingTask(k=2).grouped(Target(y=y, pred=score, query=query), codes, 2, n_boot=50,
                                   seed=0, confidence=0.95)
    assert res[0]["ndcg@2"]["value"] == 0.0 and res[0]["mrr"]["value"] == 0.0
    assert res[0]["recall@2"] == {"value": None, "ci_low": None, "ci_high": None,
                                  "reason": "no query with a relevant result"}
    assert res[1]["mrr"]["value"] == 0.5  # ranked 0.8 (y=0), 0.3 (y=1), 0.2 (y=2)
    assert res[1]["recall@2"]["value"] == 0.5
    out = RankingTask(k=2).extras(Target(y=y, pred=score, query=query))
    assert out == {"k": 2, "queries": 2, "queries_without_relevant": 1}


def test_single_row_queries() -> None:
    y = np.array([1.0, 0.0, 3.0])
    res = RankingTask(k=5).grouped(Target(y=y, pred=np.array([0.2, 0.4, 0.1]),
                                          query=np.array([0, 1, 2])),
                                   np.zeros(3, np.int64), 1, n_boot=0, seed=0, confidence=0.95)
    assert res[0]["ndcg@5"]["value"] == pytest.approx(2 / 3)
    assert res[0]["mrr"]["value"] == pytest.approx(2 / 3)
    assert res[0]["recall@5"]["value"] == 1.0


def test_a_query_takes_the_group_of_its_first_row() -> None:
    y = np.array([1, 0, 0, 1], dtype=np.float64)
    score = np.array([0.9, 0.1, 0.9, 0.1])
    query = np.array([5, 5, 6, 6], dtype=np.int64)
    codes = np.array([1, 0, 0, 1], dtype=np.int64)  # query 5 starts in group 1, query 6 in 0
    res = RankingTask(k=1).grouped(Target(y=y, pred=score, query=query), codes, 2, n_boot=0,
                                   seed=0, confidence=0.95)
    assert res[1]["mrr"]["value"] == 1.0 and res[0]["mrr"]["value"] == 0.5


def test_names_directions_and_bad_input() -> None:
    task = RankingTask(k=5)
    assert task.metric_names() == ["ndcg@5", "mrr", "recall@5"]
    assert all(task.higher_is_better(m) for m in task.metric_names())
    assert RankingTask().metric_names()[0] == "ndcg@10"
    with pytest.raises(InvalidInput, match="at least 1"):
        RankingTask(k=0)
    bad = [(Target(y=np.ones(2), pred=np.ones(2)), "query id"),
           (Target(y=np.array([1.0, -1.0]), pred=np.ones(2), query=np.zeros(2, np.int64)),
            ">= 0"),
           (Target(y=np.ones(2), pred=np.ones(3), query=np.zeros(2, np.int64)), "length")]
    for t, message in bad:
        with pytest.raises(InvalidInput, match=message):
            task.grouped(t, np.zeros(2, np.int64), 1, n_boot=0, seed=0, confidence=0.95)


# ------------------------------------------------------------------------------- bootstrap

def test_query_bootstrap_agrees_with_resampling_queries() -> None:
    y, score, query = _queries(8, n_queries=200)
    pq = _per_query(y, score, query, 5)
    boots = 3000
    idx = np.random.default_rng(0).integers(0, len(pq.ndcg), size=(boots, len(pq.ndcg)))
    brute = pq.ndcg[idx].mean(1)
    task = RankingTask(k=5)
    samples = []
    for seed in range(6):  # 6 x 500 resamples
        res = task.grouped(Target(y=y, pred=score, query=query), np.zeros(len(y), np.int64), 1,
                           n_boot=500, seed=seed, confidence=0.6827)[0]["ndcg@5"]
        assert res["ci_low"] is not None and res["ci_high"] is not None
        samples.append((res["ci_high"] - res["ci_low"]) / 2)
    assert np.mean(samples) == pytest.approx(brute.std(), rel=0.1)


def test_n_boot_zero_gives_no_interval() -> None:
    y, score, query = _queries(0, n_queries=30)
    t = Target(y=y, pred=score, query=query)
    res = RankingTask().grouped(t, query % 2, 2, n_boot=0, seed=0, confidence=0.95)
    assert all(v["ci_low"] is None and v["ci_high"] is None for g in res for v in g.values())


def test_paired_with_itself_has_zero_delta() -> None:
    y, score, query = _queries(1, ties=True)
    t = Target(y=y, pred=score, query=query)
    for group in RankingTask(k=5).paired(t, t, query % 3, 3, n_boot=200, seed=0,
                                         confidence=0.95):
        for name, d in group.items():
            assert d["delta"] == 0.0, name
            assert (d["ci_low"], d["ci_high"]) == (0.0, 0.0), name
            assert d["p_value"] == 1.0


def test_paired_points_equal_grouped_and_detect_a_worse_model() -> None:
    y, score, query = _queries(2, n_queries=400)
    worse = score + np.random.default_rng(0).normal(0, 3, len(score))
    cand = Target(y=y, pred=score, query=query)
    base = Target(y=y, pred=worse, query=query)
    task = RankingTask(k=5)
    codes = query % 3
    deltas = task.paired(cand, base, codes, 3, n_boot=300, seed=0, confidence=0.95)
    own_c = task.grouped(cand, codes, 3, n_boot=0, seed=0, confidence=0.95)
    own_b = task.grouped(base, codes, 3, n_boot=0, seed=0, confidence=0.95)
    for g in range(3):
        for name, d in deltas[g].items():
            assert d["candidate"] == own_c[g][name]["value"]
            assert d["baseline"] == own_b[g][name]["value"]
    overall = task.paired(cand, base, np.zeros(len(y), np.int64), 1, n_boot=300, seed=0,
                          confidence=0.95)[0]
    assert overall["ndcg@5"]["ci_low"] > 0 and overall["mrr"]["p_value"] < 0.01
    with pytest.raises(InvalidInput, match="same rows and queries"):
        task.paired(cand, Target(y=y, pred=worse, query=query + 1), codes, 3, n_boot=0,
                    seed=0, confidence=0.95)


# --------------------------------------------------------------------------------- properties
