"""Ranking metrics (NDCG@k, MRR, recall@k) per query, averaged per group, with a query
bootstrap.

Rows carry a query code, a graded relevance y >= 0 and a model score. Within each query the
rows are ranked by descending score. Tied scores are handled as scikit-learn's ``ndcg_score``
does (``ignore_ties=False``): every metric is its expected value over all orderings of the
tied rows, so no metric depends on row order.

    ndcg@k    DCG@k / ideal DCG@k with linear gains y and discounts 1 / log2(rank + 1) for
              ranks 1..k; the gain of a tied run of rows is the run's mean gain times the sum
              of the run's discounts (McSherry & Najork 2008). A query with no relevant row
              (ideal DCG 0) scores 0. Equal to ``sklearn.metrics.ndcg_score([y], [s], k=k)``
              per query, averaged over queries.
    mrr       1 / rank of the first relevant row (y > 0); 0 when the query has none. With
              ties, the exact expectation: in the first tied run holding r relevant rows out
              of m, starting after s rows, the first relevant one is at run position j with
              probability C(m - j, r - 1) / C(m, r).
    recall@k  relevant rows among the top k / relevant rows of the query; the expected count
              when a tied run straddles rank k. Queries with no relevant row are undefined
              and left out of the mean (a group with none gives None).

Groups (slices): a query belongs to the group code of its first row in input order (slice
columns are normally constant within a query). Group metrics are means over the group's
queries.

Bootstrap: queries are the resampled units. Poisson(1) weights per query (the engine's
``poisson_group_sums``, as in the regression calculator) in bounded-memory chunks, and each
resampled metric is a weighted mean of the per-query values; the paired comparison uses the
same weights for both models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from airlock.errors import InvalidInput
from airlock.evaluation._bootstrap import poisson_group_sums, rng_for, summarise, summarise_paired
from airlock.evaluation._catalogue import CATALOGUE, CatalogueMeaning
from airlock.evaluation._regression import deltas
from airlock.evaluation._types import Delta, MetricCI, Target

__all__ = ["RankingTask"]

Arr = np.ndarray[Any, Any]


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by (query, descending score), with run (tie) structure."""

    order: Arr  # sorted position -> input row
    qid: Arr  # dense query index per sorted row
    qstart: Arr  # first sorted position of each query
    pos: Arr  # 0-based rank within the query
    tid: Arr  # tied-run index per sorted row
    tstart: Arr  # first sorted position of each run


@dataclass(frozen=True)
class _PerQuery:
    ndcg: Arr
    rr: Arr
    recall: Arr  # NaN when the query has no relevant row
    first_row: Arr  # the query's first row in input order


def _rank(query: Arr, score: Arr) -> _Ranked:
    order = np.lexsort((-score, query))
    q, s = query[order], score[order]
    new_q = np.ones(len(q), dtype=bool)
    new_q[1:] = q[1:] != q[:-1]
    new_t = new_q.copy()
    new_t[1:] |= s[1:] != s[:-1]
    qid = np.cumsum(new_q) - 1
    qstart = np.flatnonzero(new_q)
    return _Ranked(order=order, qid=qid, qstart=qstart, pos=np.arange(len(q)) - qstart[qid],
                   tid=np.cumsum(new_t) - 1, tstart=np.flatnonzero(new_t))


def _log_factorials(m: int) -> Arr:
    out: Arr = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, m + 1, dtype=np.float64)))])
    return out


def _reciprocal_rank(rk: _Ranked, t_cnt: Arr, t_rel: Arr, n_queries: int) -> Arr:
    """Expected 1 / rank of the first relevant row over the orderings of tied rows."""
    t_q = rk.qid[rk.tstart]
    rel_runs = np.flatnonzero(t_rel > 0)
    first = np.ones(len(rel_runs), dtype=bool)
    first[1:] = t_q[rel_runs[1:]] != t_q[rel_runs[:-1]]
    is_first = np.zeros(len(t_cnt), dtype=bool)
    is_first[rel_runs[first]] = True
    rows = np.flatnonzero(is_first[rk.tid])
    run = rk.tid[rows]
    m, r = t_cnt[run], t_rel[run].astype(np.int64)
    j = rk.pos[rows] - rk.pos[rk.tstart[run]] + 1  # 1-based position inside the run
    lf = _log_factorials(int(m.max()) if len(m) else 0)
    a, b = m - j, r - 1
    valid = a >= b
    ab = np.where(valid, a - b, 0)
    log_p = lf[np.maximum(a, 0)] - lf[b] - lf[ab] - (lf[m] - lf[r] - lf[m - r])
    p = np.where(valid, np.exp(np.where(valid, log_p, 0.0)), 0.0)
    out: Arr = np.bincount(rk.qid[rows], p / (rk.pos[rows] + 1.0), minlength=n_queries)
    return out


def _per_query(y: Arr, score: Arr, query: Arr, k: int) -> _PerQuery:
    """NDCG@k, reciprocal rank and recall@k of every query (vectorised over all queries)."""
    rk = _rank(query, score)
    n_q, n_t = len(rk.qstart), len(rk.tstart)
    gain = y[rk.order]
    disc = np.where(rk.pos < k, 1.0 / np.log2(rk.pos + 2.0), 0.0)
    t_cnt = np.bincount(rk.tid, minlength=n_t)
    t_q = rk.qid[rk.tstart]
    t_mean_gain = np.bincount(rk.tid, gain, minlength=n_t) / t_cnt
    dcg = np.bincount(t_q, t_mean_gain * np.bincount(rk.tid, disc, minlength=n_t),
                      minlength=n_q)
    ideal = y[np.lexsort((-y, query))]  # same query boundaries, so the same discounts
    idcg = np.bincount(rk.qid, ideal * disc, minlength=n_q)
    rel = (gain > 0).astype(np.float64)
    t_rel = np.bincount(rk.tid, rel, minlength=n_t)
    t_top = np.bincount(rk.tid, (rk.pos < k).astype(np.float64), minlength=n_t)
    hits = np.bincount(t_q, t_rel / t_cnt * t_top, minlength=n_q)
    n_rel = np.bincount(rk.qid, rel, minlength=n_q)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg = np.where(idcg > 0, dcg / idcg, 0.0)
        recall = np.where(n_rel > 0, hits / n_rel, np.nan)
    return _PerQuery(ndcg=ndcg, rr=_reciprocal_rank(rk, t_cnt, t_rel, n_q), recall=recall,
                     first_row=np.minimum.reduceat(rk.order, rk.qstart) if n_q else rk.qstart)


def _columns(pq: _PerQuery) -> Arr:
    """Per-query quantities summed per group: count, ndcg, rr, has-relevant, recall."""
    has = ~np.isnan(pq.recall)
    return np.column_stack([np.ones_like(pq.ndcg), pq.ndcg, pq.rr, has.astype(np.float64),
                            np.where(has, pq.recall, 0.0)])


class RankingTask(CatalogueMeaning):
    """NDCG@k, MRR and recall@k per group of queries, with a query bootstrap."""

    name: str = "ranking"

    def __init__(self, *, k: int = 10) -> None:
        if int(k) < 1:
            raise InvalidInput(f"ranking cutoff k must be at least 1, got {k}")
        self.k = int(k)

    def metric_names(self) -> list[str]:
        return [m.replace("@K", f"@{self.k}") for m in CATALOGUE.names(self.name)]


    def _from_sums(self, s: Arr) -> dict[str, Arr]:
        n, s_ndcg, s_rr, n_rel, s_recall = (s[..., i] for i in range(5))
        with np.errstate(divide="ignore", invalid="ignore"):
            return {f"ndcg@{self.k}": s_ndcg / n, "mrr": s_rr / n,
                    f"recall@{self.k}": s_recall / n_rel}

    def _prepare(self, t: Target) -> tuple[Arr, Arr, Arr]:
        if t.query is None:
            raise InvalidInput("ranking evaluation needs a query id column")
        if t.pred is None:
            raise InvalidInput("ranking evaluation needs numeric scores")
        y = np.asarray(t.y, dtype=np.float64)
        score = np.asarray(t.pred, dtype=np.float64)
        query = np.asarray(t.query, dtype=np.int64)
        if score.shape != y.shape or query.shape != y.shape:
            raise InvalidInput("ranking scores, relevance and query ids differ in length")
        if len(y) and y.min() < 0:
            raise InvalidInput("ranking relevance must be >= 0")
        return y, score, query

    def _points(self, pq: _PerQuery, qcodes: Arr, n_groups: int) -> tuple[Arr, dict[str, Arr]]:
        cols = _columns(pq)
        sums = np.stack([np.bincount(qcodes, c, minlength=n_groups).astype(np.float64)
                         for c in cols.T], axis=-1)
        return cols, self._from_sums(sums)

    def grouped(self, t: Target, codes: Arr, n_groups: int, *, n_boot: int, seed: int,
                confidence: float) -> list[dict[str, MetricCI]]:
        y, score, query = self._prepare(t)
        pq = _per_query(y, score, query, self.k)
        qcodes = np.asarray(codes, dtype=np.int64)[pq.first_row]
        cols, points = self._points(pq, qcodes, n_groups)
        samples: dict[str, Arr] = {}
        if n_boot > 0 and len(qcodes):
            sums = poisson_group_sums(rng_for(seed, self.name), cols, qcodes, n_groups, n_boot)
            samples = self._from_sums(sums)
        return summarise(points, samples, confidence, n_groups, self.undefined_reason)

    def paired(self, cand: Target, base: Target, codes: Arr, n_groups: int, *, n_boot: int,
               seed: int, confidence: float) -> list[dict[str, Delta]]:
        y, score_c, query = self._prepare(cand)
        y_b, score_b, query_b = self._prepare(base)
        if not (np.array_equal(y, y_b) and np.array_equal(query, query_b)):
            raise InvalidInput("paired comparison needs the same rows and queries for both "
                               "models")
        pq_c = _per_query(y, score_c, query, self.k)
        pq_b = _per_query(y, score_b, query, self.k)
        qcodes = np.asarray(codes, dtype=np.int64)[pq_c.first_row]
        cols_c, points_c = self._points(pq_c, qcodes, n_groups)
        cols_b, points_b = self._points(pq_b, qcodes, n_groups)
        samples_c: dict[str, Arr] = {}
        samples_b: dict[str, Arr] = {}
        if n_boot > 0 and len(qcodes):
            sums = poisson_group_sums(rng_for(seed, self.name, "paired"),
                                      np.column_stack([cols_c, cols_b]), qcodes, n_groups,
                                      n_boot)
            samples_c, samples_b = self._from_sums(sums[..., :5]), self._from_sums(sums[..., 5:])
        return summarise_paired(points_c, points_b, deltas(samples_c, samples_b), confidence,
                                n_groups, self.undefined_reason)

    def extras(self, t: Target) -> dict[str, Any]:
        """Query counts: total, and without any relevant row (left out of recall@k)."""
        y, score, query = self._prepare(t)
        pq = _per_query(y, score, query, self.k)
        return {"k": self.k, "queries": len(pq.ndcg),
                "queries_without_relevant": int(np.isnan(pq.recall).sum())}
