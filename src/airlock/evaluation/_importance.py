"""Permutation importance: how much the primary metric drops when one column is shuffled.

For each feature and each of ``repeats`` permutations of the rows, the feature's column is
replaced by its values in permuted order, the model scores the result, and the importance
is the drop of the primary metric (roc_auc for a binary task, accuracy for multiclass, rmse
for regression; for rmse, a "drop" is an increase). Reported per feature: the mean over
repeats (``value``), their standard deviation (``std``, ddof 0), a percentile CI of the mean
from the one bootstrap engine (resampling the repeats), every repeat, and the rank (1: the
most important); and per slice (the drop of the metric within each slice, the shuffle
being over the whole data).

The permutations are scikit-learn's: ``RandomState(seed).randint(2**31)`` seeds one stream
whose in-place shuffles, composed repeat after repeat, permute every column alike, so the
figures equal ``sklearn.inspection.permutation_importance(…, random_state=seed)`` (a test
checks it).

Vectorised and batched: the model's outputs on the data arrive computed once; a row whose
shuffled value equals its own value keeps its score, and a row that gets the same value in
several repeats is scored once, so only distinct (row, new value) pairs are scored. Those of
a batch of features are stacked into one table and scored with one ``predict`` call
(at most ``max_rows`` rows per call). This assumes what every airlock flavor does: a model
scores each row on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from airlock.errors import UsageError

from ._binary import rank_metrics
from ._bootstrap import percentile_ci, resample_counts, rng_for
from ._data import group_codes
from ._types import Target

__all__ = ["IMPORTANCE_METRIC", "MSG_IMPORTANCE_TASK", "importance_section",
           "sklearn_permutations"]

Arr = np.ndarray[Any, Any]
#: the metric whose drop permutation importance measures, per task
IMPORTANCE_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
MSG_IMPORTANCE_TASK = ("permutation importance needs a binary, multiclass or regression task "
                       "(got {task})")
MAX_ROWS = 1_000_000


def sklearn_permutations(n: int, repeats: int, seed: int) -> Arr:
    """``(repeats, n)`` source rows: repeat ``r`` puts row ``P[r, i]``'s value in row ``i``,
    exactly as scikit-learn's permutation_importance with ``random_state=seed`` does."""
    random_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    rs = np.random.RandomState(random_seed)
    shuffling = np.arange(n)
    source = np.arange(n)
    out = np.empty((repeats, n), dtype=np.int64)
    for r in range(repeats):
        rs.shuffle(shuffling)  # in place, cumulative, as sklearn does
        source = source[shuffling]  # sklearn shuffles the already shuffled column
        out[r] = source
    return out


def _scores(task: str, t: Target) -> Arr:
    """The 1-d per-row output the metric reads: the positive score (binary), the predicted
    class code (multiclass), the prediction (regression)."""
    if task == "multiclass":
        if t.pred is not None:
            return np.asarray(np.argmax(t.pred, axis=1), dtype=np.int64)
        return np.asarray(t.labels, dtype=np.int64)
    return np.asarray(t.pred, dtype=np.float64)


def _metric(task: str, score: Arr, y: Arr, codes: Arr, n_groups: int) -> Arr:
    """The primary metric of every group of rows (NaN for an empty group)."""
    if task == "binary":
        return rank_metrics(score, y, codes, n_groups)[0]
    count = np.bincount(codes, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if task == "multiclass":
            return np.bincount(codes, weights=(score == y).astype(np.float64),
                               minlength=n_groups) / count
        return np.sqrt(np.bincount(codes, weights=(score - y) ** 2, minlength=n_groups)
                       / count)


@dataclass
class _Pending:
    feature: str
    changed: Arr  # (repeats, n) bool: the row's value differs from its own
    inverse: Arr  # for each changed cell, its distinct (row, value) pair
    rows: Arr  # the distinct pairs' rows
    sources: Arr  # ... and the rows their new value comes from


def _pending(table: pa.Table, feature: str, perms: Arr) -> _Pending:
    codes = group_codes(table.column(feature))[0]
    new = codes[perms]  # (R, n) value codes after the shuffle
    changed = new != codes[None, :]
    rows = np.broadcast_to(np.arange(table.num_rows), perms.shape)[changed]
    key = rows * (int(codes.max(initial=0)) + 1) + new[changed]
    _unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return _Pending(feature, changed, inverse.ravel(), rows[first], perms[changed][first])


def _stack(table: pa.Table, batch: list[_Pending]) -> pa.Table:
    """One table of every distinct (row, new value) pair of the batch's features."""
    pieces = []
    for p in batch:
        piece = table.take(pa.array(p.rows))
        i = piece.schema.get_field_index(p.feature)
        pieces.append(piece.set_column(i, p.feature, table.column(p.feature).take(
            pa.array(p.sources))))
    return pa.concat_tables(pieces)


def _summary(drops: Arr, rng: np.random.Generator, n_boot: int,
             confidence: float) -> dict[str, Any]:
    """Mean, std (ddof 0), a bootstrap CI of the mean over the repeats, every repeat."""
    ok = drops[np.isfinite(drops)]
    out: dict[str, Any] = {"value": float(ok.mean()) if len(ok) else None,
                           "std": float(ok.std()) if len(ok) else None,
                           "ci_low": None, "ci_high": None,
                           "repeats": [float(d) if np.isfinite(d) else None for d in drops]}
    if len(ok) >= 2 and n_boot > 0:
        means = np.concatenate([c @ ok / len(ok) for c in
                                resample_counts(rng, np.ones(len(ok)), n_boot)])
        low, high = percentile_ci(means, confidence)
        out["ci_low"], out["ci_high"] = float(low), float(high)
    elif not len(ok):
        out["reason"] = "the metric is undefined on the shuffled data"
    return out


def importance_section(predict: Callable[[pa.Table], pa.Table],
                       target_of: Callable[[pa.Table, Arr], Target], task: str,
                       table: pa.Table, t: Target, features: list[str],
                       groups: dict[str, tuple[Arr, list[str]]], *, repeats: int, seed: int,
                       n_boot: int, confidence: float, max_rows: int = MAX_ROWS
                       ) -> dict[str, Any]:
    """Permutation importance of ``features`` (see the module docstring).

    ``predict`` scores a table of the model's inputs; ``target_of(outputs, rows)`` reads
    those outputs as a Target aligned with ``rows`` of the data; ``t`` is the Target of the
    data as it is (its outputs computed once by the caller); ``groups`` the slices."""
    if task not in IMPORTANCE_METRIC:
        raise UsageError(MSG_IMPORTANCE_TASK.format(task=task))
    metric = IMPORTANCE_METRIC[task]
    higher = metric != "rmse"
    n = t.n
    base_score = _scores(task, t)
    y = np.asarray(t.y)
    perms = sklearn_permutations(n, repeats, seed)
    slice_codes = {c: (codes, len(labels)) for c, (codes, labels) in groups.items()}
    zeros = np.zeros(n, dtype=np.int64)
    base = float(_metric(task, base_score, y, zeros, 1)[0])
    base_slices = {c: _metric(task, base_score, y, codes, g)
                   for c, (codes, g) in slice_codes.items()}
    drops: dict[str, Arr] = {}
    slice_drops: dict[str, dict[str, Arr]] = {c: {} for c in groups}

    def finish(batch: list[_Pending]) -> None:
        if not batch:
            return
        stacked = _stack(table, batch)
        rows = np.concatenate([p.rows for p in batch])
        scored = _scores(task, target_of(predict(stacked), rows)) if len(rows) else \
            base_score[:0]
        start = 0
        for p in batch:
            mine = scored[start:start + len(p.rows)]
            start += len(p.rows)
            score = np.broadcast_to(base_score, p.changed.shape).copy()
            score[p.changed] = mine[p.inverse]
            flat, ys = score.ravel(), np.tile(y, repeats)
            block = np.repeat(np.arange(repeats), n)
            values = _metric(task, flat, ys, block, repeats)
            drops[p.feature] = (base - values) if higher else (values - base)
            for c, (codes, g) in slice_codes.items():
                per = _metric(task, flat, ys, block * g + np.tile(codes, repeats),
                              repeats * g).reshape(repeats, g)
                slice_drops[c][p.feature] = ((base_slices[c] - per) if higher
                                             else (per - base_slices[c]))

    batch: list[_Pending] = []
    size = 0
    for feature in features:
        p = _pending(table, feature, perms)
        if batch and size + len(p.rows) > max_rows:
            finish(batch)
            batch, size = [], 0
        batch.append(p)
        size += len(p.rows)
    finish(batch)
    per_feature = {f: _summary(drops[f], rng_for(seed, "importance", f), n_boot, confidence)
                   for f in features}
    ranked = sorted(features, key=lambda f: -(per_feature[f]["value"] or -np.inf))
    for rank, f in enumerate(ranked, start=1):
        per_feature[f]["rank"] = rank
    return {"method": "permutation", "metric": metric, "higher_is_better": higher,
            "baseline": base, "repeats": repeats, "seed": seed,
            "features": {f: per_feature[f] for f in ranked},
            "slices": {c: {label: {f: _mean(slice_drops[c][f][:, g]) for f in ranked}
                           for g, label in enumerate(groups[c][1])} for c in groups}}


def _mean(values: Arr) -> float | None:
    ok = values[np.isfinite(values)]
    return float(ok.mean()) if len(ok) else None
