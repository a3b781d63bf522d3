"""Multiclass metrics per group from confusion counts, with an exact multinomial bootstrap.

Rows carry a true class code y in 0..K-1 and either probabilities ``pred`` (n, K) or, when
the model gives none, predicted codes ``labels`` (then log_loss is left out). The predicted
class is ``labels`` when given, else the argmax of ``pred`` (first maximum on ties).

Definitions, per group, equal to scikit-learn's on the group's rows to 1e-12:

    accuracy          accuracy_score
    macro_f1          f1_score(average="macro", zero_division=0): the mean F1 over the classes
                      present in y or in the predictions of the group (sklearn's default labels)
    weighted_f1       f1_score(average="weighted", zero_division=0)
    log_loss          log_loss(labels=range(K)): mean -log(clip(p[y], eps, 1 - eps))
    precision[<c>]    precision_score(average=None, labels=range(K), zero_division=nan): a
    recall[<c>]       class never predicted (precision) or absent (recall) in the group is
                      undefined and reported as None rather than 0, so a slice gate does not
                      fail on a class the slice does not contain

Point values: one ``np.bincount`` over ``(group * K + y) * K + yhat`` gives every group's
confusion matrix; one weighted bincount gives the log-loss sums.

Bootstrap, exact for the count metrics: resampling n rows with replacement gives
multinomial counts over any partition of the rows, so the rows are partitioned into cells
(group, y, yhat) and ``multinomial(n, counts / n)`` draws the cell counts of every resample
(the engine's ``resample_counts``, in chunks of resamples); accuracy, F1, precision and
recall of all resamples follow from the counts. A paired comparison uses the cells
(group, y, yhat_candidate, yhat_baseline), so both models see the same resampled rows.

Log loss is a mean of a continuous per-row value, so its bootstrap is approximate: a separate
multinomial draw over the cells (group, loss bin), each row's loss replaced by its cell's
mean loss. The ``loss_bins`` (default 64) bins put half of their edges at quantiles of the
per-row loss and half at equal widths (which split the long tail of confident mistakes); on
the Adult data and on synthetic losses the bin means keep over 99.7% of the loss variance,
so the interval width is within about 0.2% of a row bootstrap. In a paired comparison the
bins are those of the loss difference (candidate minus baseline), and both models' cell
means come from the same draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from airlock.errors import InvalidInput
from airlock.evaluation._bootstrap import resample_counts, rng_for, summarise, summarise_paired
from airlock.evaluation._catalogue import CATALOGUE, CatalogueMeaning
from airlock.evaluation._regression import deltas
from airlock.evaluation._types import Delta, MetricCI, Target

__all__ = ["MulticlassTask"]

Arr = np.ndarray[Any, Any]

BASE_METRICS = tuple(CATALOGUE.exact_names("multiclass"))
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _Rows:
    y: Arr
    yhat: Arr
    loss: Arr | None  # per-row log loss, None without probabilities
    k: int
    names: list[str]


@dataclass(frozen=True)
class _Counts:
    """Confusion totals with a leading resample axis: (..., G, K) and (..., G)."""

    tp: Arr
    support: Arr
    predicted: Arr
    total: Arr


def _rows(t: Target) -> _Rows:
    y = np.asarray(t.y, dtype=np.int64)
    p: Arr | None = None
    if t.pred is not None:
        p = np.asarray(t.pred, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] != len(y):
            raise InvalidInput(f"multiclass probabilities must be (rows, classes), got {p.shape}")
        k = p.shape[1]
        yhat = np.argmax(p, axis=1) if t.labels is None else np.asarray(t.labels, np.int64)
    elif t.labels is not None:
        yhat = np.asarray(t.labels, dtype=np.int64)
        top = max(int(y.max()), int(yhat.max())) + 1 if len(y) and len(yhat) else 1
        k = len(t.classes) or top
    else:
        raise InvalidInput("multiclass evaluation needs probabilities or predicted labels")
    if yhat.shape != y.shape:
        raise InvalidInput("multiclass predictions and target differ in length")
    if t.classes and len(t.classes) != k:
        raise InvalidInput(f"{len(t.classes)} class names for {k} classes")
    if len(y) and (min(y.min(), yhat.min()) < 0 or max(y.max(), yhat.max()) >= k):
        raise InvalidInput(f"multiclass class codes must lie in 0..{k - 1}")
    loss = None if p is None else -np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0 - EPS))
    names = [str(c) for c in t.classes] if t.classes else [str(i) for i in range(k)]
    return _Rows(y=y, yhat=yhat, loss=loss, k=k, names=names)


def _metrics(c: _Counts, names: list[str], log_loss: Arr | None) -> dict[str, Arr]:
    """Every metric, shape (..., G), from confusion totals (and the log loss, if any)."""
    tp, support, predicted = (a.astype(np.float64) for a in (c.tp, c.support, c.predicted))
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = support + predicted
        f1 = np.where(denom > 0, 2.0 * tp / denom, 0.0)
        present = denom > 0
        out = {"accuracy": tp.sum(-1) / c.total,
               "macro_f1": np.where(present, f1, 0.0).sum(-1) / present.sum(-1),
               "weighted_f1": (f1 * support).sum(-1) / support.sum(-1)}
        if log_loss is not None:
            out["log_loss"] = log_loss
        precision, recall = tp / predicted, tp / support
    for i, name in enumerate(names):
        out[f"precision[{name}]"] = precision[..., i]
    for i, name in enumerate(names):
        out[f"recall[{name}]"] = recall[..., i]
    return out


def _point_counts(y: Arr, yhat: Arr, k: int, codes: Arr, n_groups: int) -> _Counts:
    """Exact confusion totals of every group from one bincount."""
    conf = np.bincount((codes * k + y) * k + yhat,
                       minlength=n_groups * k * k).reshape(n_groups, k, k)
    support = conf.sum(2)
    return _Counts(tp=np.diagonal(conf, axis1=1, axis2=2), support=support,
                   predicted=conf.sum(1), total=support.sum(1))


def _point_log_loss(loss: Arr | None, codes: Arr, n_groups: int) -> Arr | None:
    if loss is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Arr = (np.bincount(codes, loss, minlength=n_groups)
                    / np.bincount(codes, minlength=n_groups))
    return out


def _bins(values: Arr, bins: int) -> tuple[Arr, int]:
    """Bin of every value, and the number of bins: half of the edges at quantiles, half
    equally spaced (the equal-width ones split the long tail of large losses)."""
    half = max(bins // 2, 1)
    inner = np.linspace(0.0, 1.0, half + 1)[1:-1]
    lo, hi = float(values.min()), float(values.max())
    edges = np.unique(np.concatenate([np.quantile(values, inner), lo + (hi - lo) * inner]))
    return np.searchsorted(edges, values, side="right").astype(np.int64), len(edges) + 1


def _segment_sum(m: Arr, keys: Arr, n_keys: int) -> Arr:
    """Column sums of ``m`` (B, cells) by cell key: (B, n_keys)."""
    out = np.zeros((m.shape[0], n_keys), dtype=m.dtype)
    if not len(keys):
        return out
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    out[:, sk[starts]] = np.add.reduceat(m[:, order], starts, axis=1)
    return out


def _cells(key: Arr, values: Sequence[Arr]) -> tuple[Arr, Arr, list[Arr]]:
    """Distinct cell keys, their row counts and the mean of each per-row value per cell."""
    cells, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    means = [np.bincount(inv, v, minlength=len(cells)) / counts for v in values]
    return cells, counts, means


def _resampled_counts(g: Arr, y: Arr, yhat: Arr, m: Arr, n_groups: int, k: int) -> _Counts:
    """Confusion totals of a batch of resamples from its cell counts ``m`` (B, cells), the
    cells being described by their group, true class and predicted class."""
    b, size = m.shape[0], n_groups * k
    gy, diag = g * k + y, y == yhat
    support = _segment_sum(m, gy, size).reshape(b, n_groups, k)
    return _Counts(tp=_segment_sum(m[:, diag], gy[diag], size).reshape(b, n_groups, k),
                   support=support,
                   predicted=_segment_sum(m, g * k + yhat, size).reshape(b, n_groups, k),
                   total=support.sum(-1))


def _resampled_log_loss(rng: np.random.Generator, losses: Sequence[Arr], bin_on: Arr,
                        codes: Arr, n_groups: int, n_boot: int, bins: int) -> list[Arr]:
    """Resampled mean of each per-row loss (n_boot, G): multinomial counts over the cells
    (group, bin of ``bin_on``), each row's loss replaced by its cell's mean."""
    row_bins, n_bins = _bins(bin_on, bins)
    cells, counts, means = _cells(codes * n_bins + row_bins, losses)
    g = cells // n_bins
    parts: list[list[Arr]] = [[] for _ in losses]
    for m in resample_counts(rng, counts, n_boot):
        total = _segment_sum(m, g, n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            for part, mean in zip(parts, means, strict=True):
                part.append(_segment_sum(m * mean, g, n_groups) / total)
    return [np.concatenate(part, axis=0) for part in parts]


def _collect(parts: list[dict[str, Arr]]) -> dict[str, Arr]:
    return {name: np.concatenate([p[name] for p in parts], axis=0) for name in parts[0]}


class MulticlassTask(CatalogueMeaning):
    """Accuracy, macro/weighted F1, log loss and per-class precision/recall per group, with
    an exact multinomial bootstrap over confusion cells."""

    name: str = "multiclass"

    def __init__(self, *, classes: Sequence[Any] = (), loss_bins: int = 64) -> None:
        if int(loss_bins) < 2:
            raise InvalidInput(f"loss_bins must be at least 2, got {loss_bins}")
        self.classes = [str(c) for c in classes]
        self.loss_bins = int(loss_bins)

    def metric_names(self) -> list[str]:
        """The four summary metrics, and per-class ones for the classes given at
        construction (results always name the classes of the evaluated ``Target``)."""
        return [*BASE_METRICS, *(f"precision[{c}]" for c in self.classes),
                *(f"recall[{c}]" for c in self.classes)]


    def grouped(self, t: Target, codes: Arr, n_groups: int, *, n_boot: int, seed: int,
                confidence: float) -> list[dict[str, MetricCI]]:
        rows = _rows(t)
        codes = np.asarray(codes, dtype=np.int64)
        points = _metrics(_point_counts(rows.y, rows.yhat, rows.k, codes, n_groups), rows.names,
                          _point_log_loss(rows.loss, codes, n_groups))
        samples: dict[str, Arr] = {}
        if n_boot > 0 and len(rows.y):
            samples = self._samples(rows, codes, n_groups, n_boot, seed)
        return summarise(points, samples, confidence, n_groups, self.undefined_reason)

    def _samples(self, rows: _Rows, codes: Arr, n_groups: int, n_boot: int,
                 seed: int) -> dict[str, Arr]:
        """Resampled metrics (n_boot, G): the count metrics from multinomial counts over the
        cells (group, y, yhat), the log loss from its own draw over (group, loss bin)."""
        k = rows.k
        cells, counts, _ = _cells((codes * k + rows.y) * k + rows.yhat, [])
        g, y, yhat = cells // (k * k), cells // k % k, cells % k
        rng = rng_for(seed, self.name)
        samples = _collect([_metrics(_resampled_counts(g, y, yhat, m, n_groups, k), rows.names,
                                     None) for m in resample_counts(rng, counts, n_boot)])
        if rows.loss is not None:
            (samples["log_loss"],) = _resampled_log_loss(
                rng_for(seed, self.name, "log_loss"), [rows.loss], rows.loss, codes, n_groups,
                n_boot, self.loss_bins)
        return samples

    def paired(self, cand: Target, base: Target, codes: Arr, n_groups: int, *, n_boot: int,
               seed: int, confidence: float) -> list[dict[str, Delta]]:
        rc, rb = _rows(cand), _rows(base)
        if rc.k != rb.k or not np.array_equal(rc.y, rb.y):
            raise InvalidInput("paired comparison needs the same target rows and classes for "
                               "both models")
        codes = np.asarray(codes, dtype=np.int64)
        points_c = _metrics(_point_counts(rc.y, rc.yhat, rc.k, codes, n_groups), rc.names,
                            _point_log_loss(rc.loss, codes, n_groups))
        points_b = _metrics(_point_counts(rc.y, rb.yhat, rc.k, codes, n_groups), rc.names,
                            _point_log_loss(rb.loss, codes, n_groups))
        samples_c: dict[str, Arr] = {}
        samples_b: dict[str, Arr] = {}
        if n_boot > 0 and len(rc.y):
            samples_c, samples_b = self._paired_samples(rc, rb, codes, n_groups, n_boot, seed)
        return summarise_paired(points_c, points_b, deltas(samples_c, samples_b), confidence,
                                n_groups, self.undefined_reason)

    def _paired_samples(self, rc: _Rows, rb: _Rows, codes: Arr, n_groups: int, n_boot: int,
                        seed: int) -> tuple[dict[str, Arr], dict[str, Arr]]:
        """Resampled metrics of both models from the same draws: count metrics over the
        cells (group, y, yhat_cand, yhat_base), log loss over (group, bin of the loss
        difference) with the per-cell mean loss of each model."""
        k = rc.k
        cells, counts, _ = _cells(((codes * k + rc.y) * k + rc.yhat) * k + rb.yhat, [])
        g, y = cells // (k * k * k), cells // (k * k) % k
        parts_c, parts_b = [], []
        for m in resample_counts(rng_for(seed, self.name, "paired"), counts, n_boot):
            parts_c.append(_metrics(_resampled_counts(g, y, cells // k % k, m, n_groups, k),
                                    rc.names, None))
            parts_b.append(_metrics(_resampled_counts(g, y, cells % k, m, n_groups, k),
                                    rc.names, None))
        samples_c, samples_b = _collect(parts_c), _collect(parts_b)
        if rc.loss is not None and rb.loss is not None:
            samples_c["log_loss"], samples_b["log_loss"] = _resampled_log_loss(
                rng_for(seed, self.name, "paired", "log_loss"), [rc.loss, rb.loss],
                rc.loss - rb.loss, codes, n_groups, n_boot, self.loss_bins)
        return samples_c, samples_b

    def extras(self, t: Target) -> dict[str, Any]:
        """The overall confusion matrix (rows: true class, columns: predicted class)."""
        rows = _rows(t)
        k = rows.k
        conf = np.bincount(rows.y * k + rows.yhat, minlength=k * k).reshape(k, k)
        return {"confusion_matrix": {"classes": rows.names, "matrix": conf.tolist()}}
