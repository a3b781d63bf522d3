"""Retrieval metrics per query, vectorised over all queries, with trec_eval's conventions
(``pytrec_eval`` and ``ir-measures`` compute the same values; the tests use them as oracles).

Input: a *run* of rows ``(query, doc, score)`` and *qrels* ``(query, doc, grade)`` with
integer grades >= 0. Conventions, exactly as trec_eval 9 does them:

- **order**: within a query, rows rank by descending score; equal scores rank by
  descending doc id (byte order of the UTF-8 id, trec_eval's ``strcmp``). A doc appears at
  most once per query in a run (a duplicate is refused).
- **relevant**: grade >= 1 (``relevance_level`` 1); grade 0 is judged non-relevant; a doc
  without a grade is non-relevant.
- ``recall@k`` relevant docs in the top k / relevant docs of the query (trec ``recall_k``);
  ``precision@k`` relevant docs in the top k / k, also when fewer than k were retrieved
  (``P_k``); ``hit_rate@k`` 1 when any relevant doc is in the top k (``success_k``);
  ``ndcg@k`` DCG@k / ideal DCG@k, gain = grade, discount 1 / log2(rank + 1), the ideal
  ranking being every graded doc of the query by descending grade (``ndcg_cut_k``);
  ``map@k`` the sum of precision at the rank of each relevant doc in the top k / relevant
  docs (``map_cut_k``); ``map`` and ``mrr`` the same over the whole ranking (``map``,
  ``recip_rank``: 1 / rank of the first relevant doc).
- **queries**: every query of the qrels is scored; one without any row in the run scores
  0 on every metric (``trec_eval -c``); so does a query without any relevant doc (every
  metric is 0 for it: there is nothing to find). Run rows of other queries are ignored.

Cost: one pass per contribution (cumulative sums over the sorted rows, read back at each
query's k-th row), no Python loop over queries. Rows already grouped by query and sorted
by descending score (a retriever's output) are used in place; otherwise they are sorted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import InvalidInput

__all__ = ["MSG_BAD_GRADE", "MSG_BAD_K", "MSG_DUPLICATE_DOC", "MSG_GRADED_TWICE",
           "RetrievalScores", "check_ks", "metric_names", "retrieval_scores"]

Arr = np.ndarray[Any, Any]

MSG_BAD_K = "k must be a list of whole numbers >= 1 (got {got!r})"
MSG_BAD_GRADE = "relevance grades must be whole numbers >= 0 (got {got!r})"
MSG_DUPLICATE_DOC = "doc {doc!r} is ranked twice for query {query!r}"
MSG_GRADED_TWICE = "doc {doc!r} is graded twice for query {query!r}"
_AT_K = ("recall", "precision", "ndcg", "map", "hit_rate")


def check_ks(ks: Sequence[Any]) -> tuple[int, ...]:
    """The cutoffs, sorted and unique; InvalidInput for an empty list or a bad value."""
    ok = bool(ks) and all(isinstance(k, int | np.integer) and not isinstance(k, bool)
                          and k >= 1 for k in ks)
    if not ok:
        raise InvalidInput(MSG_BAD_K.format(got=list(ks)))
    return tuple(sorted({int(k) for k in ks}))


def metric_names(ks: Sequence[int]) -> list[str]:
    """The metric columns for cutoffs ``ks``: per k, then ``mrr`` and ``map``."""
    return [f"{m}@{k}" for k in check_ks(ks) for m in _AT_K] + ["mrr", "map"]


@dataclass(frozen=True)
class RetrievalScores:
    """Per-query metrics: ``values[i, j]`` is metric ``names[j]`` of query ``queries[i]``;
    ``relevant[i]`` the query's number of relevant docs, ``retrieved[i]`` its run rows."""

    queries: list[str]
    names: list[str]
    values: Arr
    relevant: Arr
    retrieved: Arr

    def column(self, name: str) -> Arr:
        out: Arr = self.values[:, self.names.index(name)]
        return out

    def mean(self) -> dict[str, float]:
        """The mean of each metric over the queries (what trec_eval reports as ``all``)."""
        means = self.values.mean(axis=0) if len(self.queries) else np.full(len(self.names),
                                                                            np.nan)
        return {n: float(v) for n, v in zip(self.names, means, strict=True)}


def _strings(values: Any, what: str) -> pa.Array:
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not isinstance(arr, pa.Array):
        arr = pa.array(np.asarray(values).astype(str) if isinstance(values, np.ndarray)
                       else [str(v) for v in values], type=pa.string())
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if arr.null_count:
        raise InvalidInput(f"{what} ids must not be missing")
    return arr


def _grades(grade: Any) -> Arr:
    g = np.asarray(grade)
    if g.dtype.kind not in "iuf":
        raise InvalidInput(MSG_BAD_GRADE.format(got=g.ravel()[0].item() if g.size else None))
    bad = ~(np.isfinite(g) & (g >= 0) & (g == np.round(g)))
    if bad.any():
        raise InvalidInput(MSG_BAD_GRADE.format(got=g[bad][0].item()))
    return g.astype(np.float64)


def _heads(codes_changed: Arr, n: int) -> Arr:
    """First row of each run of equal values, from ``changed[i] = value[i+1] != value[i]``."""
    out: Arr = np.concatenate([[0], np.flatnonzero(codes_changed) + 1]) if n else \
        np.zeros(0, np.int64)
    return out


def _run_queries(rq: pa.Array, queries: pa.Array) -> Arr:
    """Each run row's index in ``queries`` (-1: not a query of the qrels). Rows grouped
    by query (a retriever's output) are matched a block at a time."""
    n = len(rq)
    if n == 0:
        return np.zeros(0, np.int64)
    heads = _heads(np.asarray(pc.not_equal(rq[1:], rq[:-1])), n)
    head_q = _index_in(rq.take(pa.array(heads)), queries)
    known = head_q[head_q >= 0]
    if len(np.unique(known)) == len(known):
        out: Arr = np.repeat(head_q, np.diff(np.append(heads, n)))
        return out
    return _index_in(rq, queries)


def _index_in(values: pa.Array, value_set: pa.Array) -> Arr:
    idx = pc.fill_null(pc.index_in(values, value_set=value_set), -1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)


def _order(qcode: Arr, score: Arr, doc_rank: Callable[[], Arr]) -> Arr | None:
    """The permutation ranking the rows (None: already in order). ``doc_rank()`` gives the
    byte-order rank of each row's doc id, computed only when scores tie."""
    n = len(qcode)
    if n < 2:
        return None
    new = qcode[1:] != qcode[:-1]
    heads = qcode[_heads(new, n)]
    same = ~new
    if len(np.unique(heads)) == len(heads) and not np.any(same & (score[1:] > score[:-1])):
        tied = same & (score[1:] == score[:-1])
        if not tied.any():
            return None
        ranks = doc_rank()
        if not np.any(tied & (ranks[1:] > ranks[:-1])):
            return None
        return np.lexsort((-ranks, -score, qcode))
    if np.unique(score).size < n:  # ties somewhere: break them by doc id
        return np.lexsort((-doc_rank(), -score, qcode))
    return np.lexsort((-score, qcode))


def _pair_hash(q: pa.Array, d: pa.Array) -> Arr:
    """A 64-bit hash of each (query, doc) pair (polars' row hash, one seed): equal pairs
    hash equal; the rare equal hash of different pairs is caught by comparing the ids."""
    import polars as pl

    frame = pl.DataFrame({"q": pl.from_arrow(q), "d": pl.from_arrow(d)})
    out: Arr = frame.hash_rows(seed=0).to_numpy()
    return out


def _same(a: pa.Array, ia: Arr, b: pa.Array, ib: Arr) -> Arr:
    out: Arr = np.asarray(pc.equal(a.take(pa.array(ia)), b.take(pa.array(ib))))
    return out


class _Collision(Exception):
    """Two different (query, doc) pairs share a hash: join on exact codes instead."""


def _hash_join(rq: pa.Array, rd: pa.Array, rows: Arr, qq: pa.Array, qd: pa.Array
               ) -> tuple[Arr, Arr, Arr]:
    """(run positions with a grade, their qrels rows, the run's pair keys) through pair
    hashes, every hash match confirmed on the ids."""
    qh = _pair_hash(qq, qd)
    qs = np.argsort(qh, kind="stable")
    qh_sorted = qh[qs]
    rh = _pair_hash(rq, rd)[rows]
    twin = np.flatnonzero(qh_sorted[1:] == qh_sorted[:-1])
    if len(twin):  # a pair graded twice, or a collision
        a, b = qs[twin], qs[twin + 1]
        same = _same(qq, a, qq, b) & _same(qd, a, qd, b)
        if same.any():
            i = int(a[same][0])
            raise InvalidInput(MSG_GRADED_TWICE.format(doc=qd[i].as_py(), query=qq[i].as_py()))
        raise _Collision
    at = _lookup(qh_sorted, rh)
    pos = np.flatnonzero(at >= 0)
    qi = qs[at[pos]]
    if not (_same(rq, rows[pos], qq, qi) & _same(rd, rows[pos], qd, qi)).all():
        raise _Collision
    return pos, qi, rh


def _lookup(table: Arr, keys: Arr) -> Arr:
    """The index of each key in the sorted uint64 ``table`` (-1: absent): the table's keys
    are bucketed by their top bits (a few times more buckets than keys), so every probe
    reads a cache-resident bucket instead of a binary search over the table."""
    found = np.full(len(keys), -1, dtype=np.int64)
    if not len(table) or not len(keys):
        return found
    bits = min(int(np.ceil(np.log2(len(table) + 1))) + 2, 30)
    shift = np.uint64(64 - bits)
    bounds = np.searchsorted((table >> shift).astype(np.int64), np.arange((1 << bits) + 1))
    bucket = (keys >> shift).astype(np.int64)
    cand, stop = bounds[bucket], bounds[bucket + 1]
    active = np.flatnonzero(cand < stop)
    while len(active):  # as many passes as the fullest bucket holds keys
        c = cand[active]
        hit = table[c] == keys[active]
        found[active[hit]] = c[hit]
        active = active[~hit]
        cand[active] += 1
        active = active[cand[active] < stop[active]]
    return found


def _exact_join(rq: pa.Array, rd: pa.Array, rows: Arr, qq: pa.Array, qd: pa.Array
                ) -> tuple[Arr, Arr, Arr]:
    """:func:`_hash_join` on exact integer codes of the pairs (dictionary-encoded ids)."""
    enc_q = pc.dictionary_encode(pa.chunked_array([qq, rq]))
    enc_d = pc.dictionary_encode(pa.chunked_array([qd, rd]))
    codes_q = [np.asarray(c.indices, dtype=np.int64) for c in enc_q.chunks]
    codes_d = [np.asarray(c.indices, dtype=np.int64) for c in enc_d.chunks]
    n_docs = max(len(enc_d.chunks[0].dictionary), 1)
    qk = codes_q[0] * n_docs + codes_d[0]
    rk = (codes_q[1] * n_docs + codes_d[1])[rows]
    qs = np.argsort(qk, kind="stable")
    twin = np.flatnonzero(qk[qs][1:] == qk[qs][:-1])
    if len(twin):
        i = int(qs[twin[0]])
        raise InvalidInput(MSG_GRADED_TWICE.format(doc=qd[i].as_py(), query=qq[i].as_py()))
    if not len(qk):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), rk
    at = np.minimum(np.searchsorted(qk[qs], rk), len(qk) - 1)
    pos = np.flatnonzero(qk[qs][at] == rk)
    return pos, qs[at[pos]], rk


def _check_unique(rq: pa.Array, rd: pa.Array, rows: Arr, keys: Arr) -> None:
    """Refuse a doc ranked twice for one query: equal pair keys, confirmed on the ids
    (equal hashes of different pairs raise :class:`_Collision`)."""
    if len(keys) < 2:
        return
    import polars as pl

    if pl.Series(keys).n_unique() == len(keys):  # a hash count: a sort costs 3-4x more
        return
    by_key = np.argsort(keys, kind="stable")
    at = np.flatnonzero(keys[by_key][1:] == keys[by_key][:-1])
    a, b = rows[by_key[at]], rows[by_key[at + 1]]
    dup = _same(rq, a, rq, b) & _same(rd, a, rd, b)
    if dup.any():
        i = int(a[dup][0])
        raise InvalidInput(MSG_DUPLICATE_DOC.format(doc=rd[i].as_py(), query=rq[i].as_py()))
    raise _Collision


def retrieval_scores(run_query: Any, run_doc: Any, run_score: Any, qrel_query: Any,
                     qrel_doc: Any, qrel_grade: Any, *, ks: Sequence[int]) -> RetrievalScores:
    """Every metric of :func:`metric_names` for every query of the qrels (module
    docstring for the conventions). Columns are array-likes (numpy, pyarrow, lists)."""
    cuts = check_ks(ks)
    rq, rd = _strings(run_query, "run query"), _strings(run_doc, "run doc")
    qq, qd = _strings(qrel_query, "qrels query"), _strings(qrel_doc, "qrels doc")
    score = np.asarray(run_score, dtype=np.float64)
    grade = _grades(qrel_grade)
    if not (len(rq) == len(rd) == len(score)) or not (len(qq) == len(qd) == len(grade)):
        raise InvalidInput("run and qrels columns must have equal lengths")
    if not np.all(np.isfinite(score)):
        raise InvalidInput("run scores must be finite numbers")
    enc = pc.dictionary_encode(qq)  # the qrels' queries, in order of first appearance
    queries: pa.Array = enc.dictionary
    qrel_q = np.asarray(enc.indices, dtype=np.int64)
    n_q = len(queries)
    run_q = _run_queries(rq, queries)
    rows = np.flatnonzero(run_q >= 0)
    if len(rows) < len(run_q):
        run_q, score = run_q[rows], score[rows]

    def doc_rank() -> Arr:
        docs = rd.take(pa.array(rows))
        out: Arr = np.asarray(pc.rank(docs, sort_keys="ascending", tiebreaker="dense"),
                              dtype=np.int64)
        return out

    order = _order(run_q, score, doc_rank)
    if order is not None:
        run_q, score, rows = run_q[order], score[order], rows[order]
    try:
        pos, qi, keys = _hash_join(rq, rd, rows, qq, qd)
        _check_unique(rq, rd, rows, keys)
    except _Collision:  # never seen in practice: 64-bit hashes of different pairs equal
        pos, qi, keys = _exact_join(rq, rd, rows, qq, qd)
        _check_unique(rq, rd, rows, keys)
    gain = np.zeros(len(rows))
    gain[pos] = grade[qi]
    return _score(run_q, gain, qrel_q, grade, n_q, cuts, queries)


def _score(run_q: Arr, gain: Arr, qrel_q: Arr, grade: Arr, n_q: int, cuts: tuple[int, ...],
           queries: pa.Array) -> RetrievalScores:
    """The metrics from ranked rows grouped by query (``run_q``) and their grades."""
    n = len(run_q)
    heads = _heads(run_q[1:] != run_q[:-1], n)
    length = np.diff(np.append(heads, n))
    start, count = np.zeros(n_q, np.int64), np.zeros(n_q, np.int64)
    start[run_q[heads]], count[run_q[heads]] = heads, length
    row_start = np.repeat(heads, length)
    rel = (gain >= 1.0).astype(np.float64)
    rank = np.arange(n) - row_start + 1.0
    n_rel = np.bincount(qrel_q, (grade >= 1.0).astype(np.float64), minlength=n_q)
    c_rel = _cum(rel)  # c[i]: the sum over the rows before row i
    rel_above = c_rel[:-1] - c_rel[row_start]  # relevant rows above, in the same query
    c_ap = _cum(rel * (rel_above + 1.0) / rank)
    c_dcg = _cum(gain / np.log2(rank + 1.0))
    rr = np.bincount(run_q, rel * (rel_above == 0) / rank, minlength=n_q)

    def upto(cum: Arr, k: int | None) -> Arr:
        """Per query: the sum of a contribution over its first k rows (all when None)."""
        take = count if k is None else np.minimum(count, k)
        out: Arr = cum[start + take] - cum[start]
        return out

    ideal = _ideal_dcg(qrel_q, grade, n_q, cuts)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols: list[Arr] = []
        for k in cuts:
            hits = upto(c_rel, k)
            cols += [np.where(n_rel > 0, hits / n_rel, 0.0), hits / k,
                     np.where(ideal[k] > 0, upto(c_dcg, k) / ideal[k], 0.0),
                     np.where(n_rel > 0, upto(c_ap, k) / n_rel, 0.0),
                     (hits > 0).astype(np.float64)]
        cols += [rr, np.where(n_rel > 0, upto(c_ap, None) / n_rel, 0.0)]
    return RetrievalScores(queries=[str(x) for x in queries.to_pylist()],
                           names=metric_names(cuts), values=np.column_stack(cols),
                           relevant=n_rel, retrieved=count)


def _cum(x: Arr) -> Arr:
    out: Arr = np.empty(len(x) + 1)
    out[0] = 0.0
    np.cumsum(x, out=out[1:])
    return out


def _ideal_dcg(qrel_q: Arr, grade: Arr, n_q: int, cuts: tuple[int, ...]) -> dict[int, Arr]:
    """Ideal DCG@k per query: its graded docs by descending grade."""
    order = np.lexsort((-grade, qrel_q))
    q, g = qrel_q[order], grade[order]
    start = np.searchsorted(q, np.arange(n_q))
    pos = np.arange(len(q)) - start[q]
    contrib = g / np.log2(pos + 2.0)
    return {k: np.bincount(q, np.where(pos < k, contrib, 0.0), minlength=n_q) for k in cuts}
