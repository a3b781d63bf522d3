"""Binary classification: point metrics per group and bootstrap CIs from resampled counts.

Inputs: ``Target(y=0/1, pred=score of the positive class in [0, 1])``. A row is predicted
positive when ``score >= threshold``.

Metrics (the point estimates equal scikit-learn's on the same rows, overall and per group):

=============== ======================================================== ==================
metric          definition                                               undefined (None)
=============== ======================================================== ==================
accuracy        (tp + tn) / n                                            never
precision       tp / (tp + fp)                                           no predicted pos.
recall          tp / (tp + fn)                                           no positives
f1              2 tp / (2 tp + fp + fn)                                  no pos., no pred.
roc_auc         ``roc_auc_score`` (trapezoids, ties count one half)      one class only
pr_auc          ``average_precision_score`` (step sum, not trapezoids)    no positives
log_loss        mean of -log(clip(p)) / -log(clip(1 - p)), eps of f64    never
brier           mean of (y - p)^2 (``brier_score_loss``)                 never
ece             sum over bins of n_b / n * |mean score_b - positive rate_b| never
selection_rate  (tp + fp) / n                                            never
=============== ======================================================== ==================

Where scikit-learn would return 0 with a warning (``zero_division``) or raise, airlock
returns NaN, stored as None: an undefined metric is never gated as if it were 0.

ECE uses ``ece_bins`` equal-width bins on the score, assigned like scikit-learn's
``calibration_curve(strategy="uniform")`` (bin b holds edge_b < p <= edge_b+1, the first bin
includes 0), weighted by the number of rows in each bin; the reliability curve in
:meth:`BinaryTask.extras` is exactly that ``calibration_curve``.

Bootstrap. A resample of the n rows with replacement gives multinomial counts over any
partition of the rows. Rows are partitioned into cells ``group x y x score cell``; a score
cell is an interval of the score that never straddles the threshold, an ECE bin edge or a
point of a logit grid (step 0.5 on [-16, 16]), and is otherwise a quantile bin of the score.
One ``multinomial(n, cell counts / n)`` draw per resample gives the counts of every cell,
and every metric of every group follows from the ``(resamples x cells)`` count matrix:

- accuracy, precision, recall, f1, selection rate: exact bootstrap distributions (the
  prediction is a function of the cell);
- log loss, Brier: each drawn row counts with its cell's mean loss; ECE: with its cell's
  mean score; the value on the original counts is exact, only the spread of a loss within
  a cell is lost (within one logit-grid step the log loss moves by at most 0.5);
- ROC AUC: pairs in different cells are ordered by their cells, pairs inside one cell count
  with the concordance that cell has in the data (exact on the original counts);
- PR AUC: the positives of a cell get the mean precision along the cell's segment of the
  PR curve (its rows taken as evenly mixed); what remains of the difference to the exact
  value on the original data (1e-5 overall, at most 3e-4 per group of a 16-value slice, on
  the 1M-row benchmark) is added to every resample.

The number of quantile bins starts at 1,024 and halves until at most ``max_cells`` cells
are occupied (8 bins at least), which bounds the cost to about ``n_boot x max_cells``
binomial draws per call. Against a row-resampling bootstrap the mean and standard deviation
of every metric agree within the Monte Carlo noise of the comparison, also when a tiny
budget forces 8 quantile bins (tests/unit/test_binary_metrics.py): the approximation error
is far below the width of the intervals.

The percentile interval of ECE can lie entirely above the point estimate for a
well-calibrated model: ECE is a sum of absolute values, so every resample adds noise to it.
That is the bootstrap's behaviour (the row bootstrap does the same), not the cells'.

Baseline comparison (:meth:`BinaryTask.paired`): the cells cross the two models' score
cells (group x y x candidate cell x baseline cell; 128 quantile bins to start, a logit grid
of step 2 on [-12, 12], ``paired_max_cells``), so both models see the same resampled rows;
count-metric deltas are exact bootstrap distributions, the others approximated as above.
The p-value is two-sided (``paired_p_value``) for "no difference".

Seeds: ``rng_for(seed, "binary", "grouped" | "paired", str(n_groups))``; the draws do not
depend on the order of the rows nor on the chunking of the resamples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ._bootstrap import as_float, resample_counts, rng_for, summarise, summarise_paired
from ._catalogue import CATALOGUE, CatalogueMeaning
from ._types import Delta, MetricCI, Target

__all__ = ["METRICS", "BinaryTask", "RowStats", "check_codes", "check_target",
           "confusion_counts", "count_metrics", "descending_runs", "ece_bin_ids",
           "point_metrics", "predicted", "rank_metrics", "score_order"]

Array = np.ndarray[Any, Any]

METRICS = tuple(CATALOGUE.exact_names("binary"))
BINNED = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
EPS = float(np.finfo(np.float64).eps)
#: Logit grid whose points are always cell edges: bounds the spread of a loss in a cell.
LOGIT_GRID = 1.0 / (1.0 + np.exp(-np.linspace(-16.0, 16.0, 65)))
#: The coarser grid of the paired (baseline) bootstrap, whose cells cross two models.
PAIRED_LOGIT_GRID = 1.0 / (1.0 + np.exp(-np.linspace(-12.0, 12.0, 13)))
PAIRED_QUANTILE_BINS = 128
MAX_QUANTILE_BINS = 1024
MIN_QUANTILE_BINS = 8
CURVE_POINTS = 200


# ---------------------------------------------------------------------------- point metrics

def check_target(t: Target) -> tuple[Array, Array]:
    """y as int8 0/1 and the score as float64, validated (one clear error otherwise); once
    per Target (every section of an evaluation reads the same arrays, never writes them)."""
    return t.cached("binary:checked", lambda: _check_target(t))


def _check_target(t: Target) -> tuple[Array, Array]:
    if t.pred is None:
        raise InvalidInput("a binary evaluation needs scores of the positive class")
    y = np.asarray(t.y)
    p = np.asarray(t.pred, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape:
        raise InvalidInput(f"labels {y.shape} and scores {p.shape} must be 1-d, same length")
    if y.size and not (np.isin(y, (0, 1)).all() if y.dtype.kind not in "iub"
                       else y.min() >= 0 and y.max() <= 1):
        raise InvalidInput("binary labels must be 0 or 1")
    if p.size and not (np.isfinite(p).all() and p.min() >= 0.0 and p.max() <= 1.0):
        raise InvalidInput("scores must be finite probabilities in [0, 1]")
    return y.astype(np.int8), p  # 0/1: one byte a row, cheap to gather


def ece_bin_ids(p: Array, n_bins: int) -> Array:
    """ECE bin of each score, as ``sklearn.calibration.calibration_curve(strategy='uniform')``
    (bin b holds edge_b < p <= edge_b+1, the first includes 0): arithmetic, then moved by one
    where rounding put a score on the wrong side of a ``linspace`` edge (no search)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b: Array = np.ceil(p * n_bins).astype(np.int64) - 1
    np.clip(b, 0, n_bins - 1, out=b)
    b -= (b > 0) & (p <= edges[b])
    b += (b < n_bins - 1) & (p > edges[b + 1])
    return b


def predicted(t: Target, threshold: float) -> Array:
    """1 where the score reaches ``threshold`` (int64), once per Target and threshold."""
    return t.cached(("binary:yhat", threshold),
                    lambda: (check_target(t)[1] >= threshold).astype(np.int64))


@dataclass(frozen=True)
class RowStats:
    """What the point metrics derive row by row from (y, score): computed once per Target
    (:meth:`BinaryTask.grouped` of the overall result, every slice, the curves)."""

    yhat: Array  # 1 where predicted positive
    log_loss: Array
    sq: Array  # squared error
    ece_bin: Array

    @staticmethod
    def of(y: Array, p: Array, threshold: float, ece_bins: int,
           yhat: Array | None = None) -> RowStats:
        ll, sq = row_losses(y, p)
        return RowStats((p >= threshold).astype(np.int64) if yhat is None else yhat, ll, sq,
                        ece_bin_ids(p, ece_bins))


def confusion_counts(y: Array, yhat: Array, codes: Array, n_groups: int) -> Array:
    """(n_groups, 2, 2) float64 counts indexed [group, y, yhat]."""
    flat = np.bincount(codes * 4 + y * 2 + yhat, minlength=4 * n_groups)
    return flat.reshape(n_groups, 2, 2).astype(np.float64)


def count_metrics(tp: Array, fp: Array, fn: Array, tn: Array) -> dict[str, Array]:
    """The metrics of the confusion counts (any shape, vectorised; 0/0 gives NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = tp + fp + fn + tn
        return {
            "accuracy": (tp + tn) / n,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2.0 * tp / (2.0 * tp + fp + fn),
            "selection_rate": (tp + fp) / n,
            "tpr": tp / (tp + fn),
            "fpr": fp / (fp + tn),
        }


def score_order(p: Array, codes: Array, n_groups: int, by_score: Array | None = None) -> Array:
    """Row order by group, then by descending score (ties in any order).

    ``by_score`` is the rows' descending-score order when already known (``Target.descending``:
    the evaluation sorts its scores once); grouping it is a stable radix sort of small
    integer codes, not another sort of the scores."""
    if by_score is None:
        by_score = np.argsort(-p)
    if n_groups == 1:
        return by_score
    small = np.int16 if n_groups < 2**15 else np.int64
    return by_score[np.argsort(codes[by_score].astype(small), kind="stable")]


def descending_runs(p: Array, y: Array, order: Array) -> tuple[Array, Array]:
    """Cumulative (tp, fp) at the end of each run of tied scores, ``order`` listing the rows
    by descending score: the points of the ROC and PR curves, and of the overall AUC and
    AP (one pass; :meth:`BinaryTask` computes it once per Target)."""
    n = len(order)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    s = p[order]
    last = np.empty(n, dtype=bool)
    np.not_equal(s[1:], s[:-1], out=last[:-1])
    last[-1] = True
    e = np.flatnonzero(last)
    tp = np.cumsum(y[order], dtype=np.float64)[e]
    e += 1
    return tp, e - tp


def _rank_of_runs(tp: Array, fp: Array) -> tuple[Array, Array]:
    """AUC and AP of one group from its :func:`descending_runs`."""
    if len(tp) == 0:
        return np.full(1, np.nan), np.full(1, np.nan)
    pos, neg = tp[-1], fp[-1]
    tp_step = np.diff(tp, prepend=0.0)
    fp_step = np.diff(fp, prepend=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # trapezoids: sum of fp_step * (tp + tp_prev), tp + tp_prev = 2 tp - tp_step;
        # integers below 2**53, so exact in any order
        area = 2.0 * float(np.dot(fp_step, tp)) - float(np.dot(fp_step, tp_step))
        auc = area / 2.0 / (pos * neg)
        seen = tp + fp
        np.divide(tp, seen, out=seen)  # precision at each run end
        ap = np.dot(tp_step, seen) / pos
    return np.array([auc]), np.array([ap])


def rank_metrics(p: Array, y: Array, codes: Array, n_groups: int,
                 order: Array | None = None,
                 runs: tuple[Array, Array] | None = None,
                 sorted_codes: Array | None = None) -> tuple[Array, Array]:
    """ROC AUC and average precision of every group, from one pass over sorted rows.

    ``order`` lists the rows so that each group is contiguous and sorted by descending
    score (:func:`score_order`). At the end of each run of tied scores the cumulative
    (tp, fp) of the group give one ROC/PR point: AUC is the trapezoid sum (exact integers
    until the final division), AP the step sum of scikit-learn. With one group, ``runs``
    (its :func:`descending_runs`) may be given instead of being recomputed; with several,
    ``sorted_codes`` (``codes[order]``) when the caller knows it without a gather.
    """
    if n_groups == 1 and runs is not None:
        return _rank_of_runs(*runs)
    if order is None:
        order = score_order(p, codes, n_groups)
    n = len(order)
    if n == 0:
        return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    if n_groups == 1:
        return _rank_of_runs(*descending_runs(p, y, order))
    s = p[order]
    cum_tp = np.empty(n + 1)
    cum_tp[0] = 0.0
    np.cumsum(y[order], dtype=np.float64, out=cum_tp[1:])
    last = np.empty(n, dtype=bool)  # the last row of a run of tied scores (within a group)
    np.not_equal(s[1:], s[:-1], out=last[:-1])
    last[-1] = True
    c = codes[order] if sorted_codes is None else sorted_codes
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(c[1:], c[:-1], out=new_group[1:])
    last[:-1] |= new_group[1:]
    e = np.flatnonzero(last)
    ce = c[e]
    first_row = np.flatnonzero(new_group)
    starts = np.zeros(n_groups, dtype=np.int64)
    starts[c[first_row]] = first_row
    start = starts[ce]
    group_end = np.zeros(n_groups, dtype=np.int64)
    group_end[c[first_row]] = np.r_[first_row[1:], n]
    tp = cum_tp[e + 1] - cum_tp[start]
    fp = (e + 1 - start) - tp
    first = np.empty(len(e), dtype=bool)
    first[0] = True
    np.not_equal(ce[1:], ce[:-1], out=first[1:])
    tp_prev = np.empty_like(tp)
    tp_prev[1:] = tp[:-1]
    tp_prev[first] = 0.0
    fp_prev = np.empty_like(fp)
    fp_prev[1:] = fp[:-1]
    fp_prev[first] = 0.0
    pos = cum_tp[group_end] - cum_tp[starts]
    size = (group_end - starts).astype(np.float64)
    neg = size - pos
    area = np.bincount(ce, weights=(fp - fp_prev) * (tp + tp_prev), minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = area / 2.0 / (pos * neg)
        ap = np.bincount(ce, weights=(tp - tp_prev) * (tp / (tp + fp)),
                         minlength=n_groups) / pos
    return auc, ap


def row_losses(y: Array, p: Array) -> tuple[Array, Array]:
    """Per-row log loss (scikit-learn's clipping to [eps, 1 - eps]) and squared error."""
    ll = np.where(y == 1, p, 1.0 - p)  # the probability of the true class, then its loss
    np.clip(ll, EPS, 1.0 - EPS, out=ll)
    np.log(ll, out=ll)
    np.negative(ll, out=ll)
    sq = y - p
    np.multiply(sq, sq, out=sq)
    return ll, sq


def _group_sums(codes: Array, n_groups: int, weights: Array | None = None) -> Array:
    """Per-group sums (counts without weights) as float64; one group: a plain sum."""
    if n_groups == 1:
        total = len(codes) if weights is None else weights.sum()
        return np.array([total], dtype=np.float64)
    return np.bincount(codes, weights=weights, minlength=n_groups).astype(np.float64)


def point_metrics(y: Array, p: Array, codes: Array, n_groups: int, threshold: float,
                  ece_bins: int, order: Array | None = None, *, rows: RowStats | None = None,
                  runs: tuple[Array, Array] | None = None,
                  sizes: Array | None = None) -> dict[str, Array]:
    """Every metric of every group, exactly: {metric: (n_groups,) float64}. ``rows`` (the
    per-row predictions, losses and ECE bins) and, with one group, ``runs``
    (:func:`descending_runs`) are what an evaluation computed once for all its groups;
    ``sizes`` (rows per group) says that ``order`` is :func:`score_order`'s (groups in
    ascending code order), so the groups along it need no gather."""
    r = rows if rows is not None else RowStats.of(y, p, threshold, ece_bins)
    if n_groups == 1:
        key = y * 2 + r.yhat
        cell = r.ece_bin
    else:
        key = codes * 4 + y * 2 + r.yhat
        cell = codes * ece_bins + r.ece_bin
    cm = np.bincount(key, minlength=4 * n_groups).reshape(n_groups, 2, 2).astype(np.float64)
    out = count_metrics(cm[:, 1, 1], cm[:, 0, 1], cm[:, 1, 0], cm[:, 0, 0])
    del out["tpr"], out["fpr"]
    along = None if sizes is None or n_groups == 1 else np.repeat(
        np.arange(n_groups, dtype=np.int64), sizes)
    out["roc_auc"], out["pr_auc"] = rank_metrics(p, y, codes, n_groups, order, runs, along)
    size = _group_sums(codes, n_groups) if sizes is None else sizes.astype(np.float64)
    gap = (np.bincount(cell, weights=p, minlength=n_groups * ece_bins)
           - np.bincount(cell, weights=y, minlength=n_groups * ece_bins))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["log_loss"] = _group_sums(codes, n_groups, r.log_loss) / size
        out["brier"] = _group_sums(codes, n_groups, r.sq) / size
        out["ece"] = np.abs(gap.reshape(n_groups, ece_bins)).sum(axis=1) / size
    return {m: out[m] for m in METRICS}


# ----------------------------------------------------------------------------- score cells

@dataclass(frozen=True)
class _Cells:
    """A partition of the score axis into ordered cells."""

    row: Array        # (n,) cell of each row, increasing with the score
    yhat: Array       # (S,) 1.0 where the cell is predicted positive
    onehot_ece: Array  # (S, E) ECE bin of each cell

    @property
    def size(self) -> int:
        return len(self.yhat)


class _ScoreAxis:
    """The fixed edges (threshold, ECE bins, logit grid) and the quantiles of one score."""

    def __init__(self, p: Array, threshold: float, ece_bins: int, quantile_bins: int,
                 logit_grid: Array = LOGIT_GRID) -> None:
        self.ece_bins = ece_bins
        ebin = ece_bin_ids(p, ece_bins)
        grid = np.searchsorted(logit_grid, p, side="right")
        yhat = (p >= threshold).astype(np.int64)
        fixed = (grid * 2 + yhat) * ece_bins + ebin  # monotone in p
        present = np.bincount(fixed) > 0 if len(p) else np.zeros(1, dtype=bool)
        self.fixed = (np.cumsum(present) - 1)[fixed]
        ids = np.flatnonzero(present)
        self.fixed_yhat = (ids // ece_bins) % 2
        self.fixed_ebin = ids % ece_bins
        probs = np.linspace(0.0, 1.0, quantile_bins + 1)[1:-1]
        edges = np.quantile(p, probs) if len(p) else probs
        self.quantile = np.searchsorted(edges, p, side="right")
        self.quantile_bins = quantile_bins

    def cells(self, shift: int) -> _Cells:
        """Cells of (quantile bin >> shift, fixed cell): both monotone in the score."""
        n_fixed = len(self.fixed_yhat)
        key = (self.quantile >> shift) * n_fixed + self.fixed
        present = np.bincount(key) > 0 if len(key) else np.zeros(1, dtype=bool)
        ids = np.flatnonzero(present)
        fixed = ids % n_fixed
        onehot = np.zeros((len(ids), self.ece_bins))
        onehot[np.arange(len(ids)), self.fixed_ebin[fixed]] = 1.0
        return _Cells((np.cumsum(present) - 1)[key], self.fixed_yhat[fixed].astype(np.float64),
                      onehot)


def _fit_cells(axes: list[_ScoreAxis], base: Array,
               max_cells: int) -> tuple[list[_Cells], Array, Array]:
    """The finest cells (joint over ``axes``) with at most ``max_cells`` occupied cells.

    ``base`` is group * 2 + y. Returns the cells per axis, the occupied joint cells
    ((base * S1 + s1) * S2 + s2 ...) and their row counts.
    """
    shift = 0
    while True:
        cells = [a.cells(shift) for a in axes]
        joint = base.copy()
        for c in cells:
            joint = joint * c.size + c.row
        occupied, counts = _occupied(joint)
        if len(occupied) <= max_cells or (axes[0].quantile_bins >> shift) <= MIN_QUANTILE_BINS:
            return cells, occupied, counts
        shift += 1


def _occupied(key: Array) -> tuple[Array, Array]:
    """The distinct values of a non-negative int key and their counts, ascending."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    top = int(key.max()) + 1
    if top <= 4 * len(key) + 1024:
        counts = np.bincount(key, minlength=top)
        occupied = np.flatnonzero(counts)
        return occupied, counts[occupied]
    occupied, counts = np.unique(key, return_counts=True)
    return occupied, counts


@dataclass(frozen=True)
class _CellStats:
    """What a resample needs besides counts, per (group, y, cell) of one model."""

    cells: _Cells
    loss: Array   # (G, 2, S) mean log loss of the rows of each cell
    sq: Array     # (G, 2, S) mean squared error
    score: Array  # (G, 2, S) mean score
    conc: Array   # (G, S) concordance of positive-negative pairs inside each cell
    shift: dict[str, Array]  # exact minus binned value on the original rows, per group


def _cell_stats(y: Array, p: Array, codes: Array, n_groups: int, cells: _Cells,
                point: dict[str, Array], order: Array,
                rows: RowStats | None = None) -> _CellStats:
    """Cell means, in-cell concordance and the binning shift; ``order`` from score_order,
    ``rows`` the per-row losses when already computed."""
    size = cells.size
    dense = (codes * 2 + y) * size + cells.row
    length = n_groups * 2 * size
    count = np.bincount(dense, minlength=length).astype(np.float64)
    ll, sq = (rows.log_loss, rows.sq) if rows is not None else row_losses(y, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = [np.nan_to_num(np.bincount(dense, weights=w, minlength=length) / count)
                 .reshape(n_groups, 2, size) for w in (ll, sq, p)]
    in_cell = codes * size + cells.row
    conc, _ = rank_metrics(p, y, in_cell, n_groups * size, order)
    conc = np.nan_to_num(conc, nan=0.5).reshape(n_groups, size)
    stats = _CellStats(cells, means[0], means[1], means[2], conc, {})
    binned = _resample_metrics(count.reshape(1, n_groups, 2, size), stats)
    with np.errstate(invalid="ignore"):
        shift = {m: np.nan_to_num(point[m] - binned[m][0]) for m in BINNED}
    return _CellStats(cells, means[0], means[1], means[2], conc, shift)


def _resample_metrics(k: Array, st: _CellStats) -> dict[str, Array]:
    """Every metric for every resample and group from (B, G, 2, S) cell counts."""
    neg, pos = k[:, :, 0, :], k[:, :, 1, :]
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    n = n_pos + n_neg
    tp, fp = pos @ st.cells.yhat, neg @ st.cells.yhat
    out = count_metrics(tp, fp, n_pos - tp, n_neg - fp)
    below = np.cumsum(neg, axis=-1) - neg
    prec = _segment_precision(pos, neg)
    pred_e = ((k * st.score).sum(axis=-2)) @ st.cells.onehot_ece
    with np.errstate(divide="ignore", invalid="ignore"):
        out["roc_auc"] = (pos * (below + st.conc * neg)).sum(axis=-1) / (n_pos * n_neg)
        out["pr_auc"] = (pos * prec).sum(axis=-1) / n_pos
        out["log_loss"] = (k * st.loss).sum(axis=(-2, -1)) / n
        out["brier"] = (k * st.sq).sum(axis=(-2, -1)) / n
        out["ece"] = np.abs(pred_e - pos @ st.cells.onehot_ece).sum(axis=-1) / n
    for m, s in st.shift.items():
        out[m] = out[m] + s
    return out


def _segment_precision(pos: Array, neg: Array) -> Array:
    """Mean precision of the positives of each cell, the cell's rows taken as evenly mixed:
    along the PR segment from the rows above the cell (a true of c predicted positives) to
    the cell's end (a + b of c + d), precision is (a + tb) / (c + td), whose mean over t in
    [0, 1] is b/d + (ad - bc)/d^2 ln(1 + d/c) (b/d when c = 0)."""
    b, d = pos, pos + neg
    a = np.cumsum(pos[..., ::-1], axis=-1)[..., ::-1] - b
    c = np.cumsum(d[..., ::-1], axis=-1)[..., ::-1] - d
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = b / d
        curve = flat + (a * d - b * c) / d**2 * np.log1p(d / c)
        out = np.where(c > 0, curve, flat)
    return np.where(d > 0, out, 0.0)


# ------------------------------------------------------------------------------ resampling

class _Marginal:
    """Sums the columns of a (B, C) count matrix into (B, D) by a cell -> index map."""

    def __init__(self, index: Array, length: int) -> None:
        self.order = np.argsort(index, kind="stable")
        sorted_index = index[self.order]
        self.starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
        self.targets = sorted_index[self.starts]
        self.length = length

    def __call__(self, k: Array) -> Array:
        out = np.zeros((k.shape[0], self.length))
        if k.shape[1]:
            out[:, self.targets] = np.add.reduceat(k[:, self.order], self.starts, axis=1)
        return out


# ------------------------------------------------------------------------------ calculator

class BinaryTask(CatalogueMeaning):
    """TaskCalculator for binary classification (see the module docstring)."""

    name = "binary"

    def __init__(self, *, threshold: float = 0.5, ece_bins: int = 10,
                 max_cells: int = 8192, paired_max_cells: int = 8192) -> None:
        self.threshold = float(threshold)
        self.ece_bins = int(ece_bins)
        self.max_cells = int(max_cells)
        self.paired_max_cells = int(paired_max_cells)

    def metric_names(self) -> list[str]:
        return list(METRICS)


    def rows(self, t: Target) -> RowStats:
        """The per-row predictions, losses and ECE bins of ``t``, once per Target."""
        y, p = check_target(t)
        return t.cached(("binary:rows", self.threshold, self.ece_bins),
                        lambda: RowStats.of(y, p, self.threshold, self.ece_bins,
                                            predicted(t, self.threshold)))

    def runs(self, t: Target) -> tuple[Array, Array]:
        """:func:`descending_runs` of ``t`` (overall AUC/AP and the curves), once."""
        y, p = check_target(t)
        return t.cached("binary:runs", lambda: descending_runs(p, y, t.descending))

    def _point(self, t: Target, codes: Array, n_groups: int,
               order: Array) -> dict[str, Array]:
        """``order``: :func:`score_order` of ``codes``."""
        y, p = check_target(t)
        return point_metrics(y, p, codes, n_groups, self.threshold, self.ece_bins, order,
                             rows=self.rows(t), runs=self.runs(t) if n_groups == 1 else None,
                             sizes=np.bincount(codes, minlength=n_groups))

    def point(self, t: Target, codes: Array, n_groups: int) -> dict[str, Array]:
        """Exact metrics per group, no bootstrap: {metric: (n_groups,) float64}."""
        y, p = check_target(t)
        codes = check_codes(codes, len(y), n_groups)
        return self._point(t, codes, n_groups, score_order(p, codes, n_groups, t.descending))

    def grouped(self, t: Target, codes: Array, n_groups: int, *, n_boot: int = 1000,
                seed: int = 0, confidence: float = 0.95) -> list[dict[str, MetricCI]]:
        y, p = check_target(t)
        codes = check_codes(codes, len(y), n_groups)
        order = score_order(p, codes, n_groups, t.descending)
        point = self._point(t, codes, n_groups, order)
        samples: dict[str, Array] = {}
        if n_boot > 0 and len(y):
            rng = rng_for(seed, "binary", "grouped", str(n_groups))
            samples = self._boot_grouped(y, p, codes, n_groups, point, order, n_boot, rng,
                                         self.rows(t))
        return summarise(point, samples, confidence, n_groups, self.undefined_reason,
                         _group_sums(codes, n_groups))

    def _boot_grouped(self, y: Array, p: Array, codes: Array, n_groups: int,
                      point: dict[str, Array], order: Array, n_boot: int,
                      rng: np.random.Generator, rows: RowStats | None = None
                      ) -> dict[str, Array]:
        axis = _ScoreAxis(p, self.threshold, self.ece_bins, MAX_QUANTILE_BINS)
        (cells,), occupied, counts = _fit_cells([axis], codes * 2 + y, self.max_cells)
        stats = _cell_stats(y, p, codes, n_groups, cells, point, order, rows)
        shape = (n_groups, 2, cells.size)
        dense = _Marginal(occupied, int(np.prod(shape)))
        parts: dict[str, list[Array]] = {m: [] for m in METRICS}
        for k in resample_counts(rng, counts, n_boot, width=dense.length):
            res = _resample_metrics(dense(k).reshape(-1, *shape), stats)
            for m in METRICS:
                parts[m].append(res[m])
        return {m: np.concatenate(v) for m, v in parts.items()}

    def paired(self, cand: Target, base: Target, codes: Array, n_groups: int, *,
               n_boot: int = 1000, seed: int = 0,
               confidence: float = 0.95) -> list[dict[str, Delta]]:
        y, pc = check_target(cand)
        yb, pb = check_target(base)
        if not np.array_equal(y, yb):
            raise InvalidInput("candidate and baseline must be scored on the same labels")
        codes = check_codes(codes, len(y), n_groups)
        orders = [score_order(p, codes, n_groups, target.descending)
                  for p, target in ((pc, cand), (pb, base))]
        pts = [self._point(target, codes, n_groups, o)
               for target, o in zip((cand, base), orders, strict=True)]
        samples: dict[str, Array] = {}
        if n_boot > 0 and len(y):
            rng = rng_for(seed, "binary", "paired", str(n_groups))
            samples = self._boot_paired(y, (pc, pb), codes, n_groups, pts, orders, n_boot, rng)
        return summarise_paired(pts[0], pts[1], samples, confidence, n_groups,
                                self.undefined_reason)

    def _boot_paired(self, y: Array, scores: tuple[Array, Array], codes: Array, n_groups: int,
                     pts: list[dict[str, Array]], orders: list[Array], n_boot: int,
                     rng: np.random.Generator) -> dict[str, Array]:
        axes = [_ScoreAxis(p, self.threshold, self.ece_bins, PAIRED_QUANTILE_BINS,
                           PAIRED_LOGIT_GRID) for p in scores]
        cells, occupied, counts = _fit_cells(axes, codes * 2 + y, self.paired_max_cells)
        sc, sb = cells[0].size, cells[1].size
        cand_index = occupied // sb  # (group, y, cand cell)
        base_index = (occupied // (sc * sb)) * sb + occupied % sb
        margins = [_Marginal(cand_index, n_groups * 2 * sc),
                   _Marginal(base_index, n_groups * 2 * sb)]
        stats = [_cell_stats(y, p, codes, n_groups, c, pt, o)
                 for p, c, pt, o in zip(scores, cells, pts, orders, strict=True)]
        parts: dict[str, list[Array]] = {m: [] for m in METRICS}
        width = max(len(occupied), n_groups * 2 * (sc + sb))
        for k in resample_counts(rng, counts, n_boot, width=width):
            res = [_resample_metrics(mg(k).reshape(-1, n_groups, 2, st.cells.size), st)
                   for mg, st in zip(margins, stats, strict=True)]
            for m in METRICS:
                parts[m].append(res[0][m] - res[1][m])
        return {m: np.concatenate(v) for m, v in parts.items()}

    def extras(self, t: Target) -> dict[str, Any]:
        """ROC and PR curves (<= 200 points each), reliability bins, confusion matrix."""
        y, p = check_target(t)
        rows = self.rows(t)
        return {**_curves(*self.runs(t)),
                "reliability": _reliability(y, p, self.ece_bins, rows.ece_bin),
                "confusion_matrix": _confusion(y, rows.yhat, self.threshold)}


def check_codes(codes: Array, n: int, n_groups: int) -> Array:
    """Group codes as int64, one per row, each in 0..n_groups-1 (one clear error otherwise)."""
    c = np.asarray(codes)
    if c.shape != (n,):
        raise InvalidInput(f"group codes {c.shape} do not match the {n} rows")
    if not np.issubdtype(c.dtype, np.integer):
        raise InvalidInput(f"group codes must be integers, not {c.dtype}")
    if n and (c.min() < 0 or c.max() >= n_groups):
        raise InvalidInput(f"group codes must lie in 0..{n_groups - 1}")
    return c.astype(np.int64)


# ---------------------------------------------------------------------------------- extras

def _thin(*cols: Array) -> list[Array]:
    """At most CURVE_POINTS evenly spaced points of a curve, first and last kept."""
    n = len(cols[0])
    if n <= CURVE_POINTS:
        return list(cols)
    keep = np.unique(np.linspace(0, n - 1, CURVE_POINTS).round().astype(np.int64))
    return [c[keep] for c in cols]


def _json(a: Array) -> list[float | None]:
    return [as_float(v) for v in a]


def _curves(tp: Array, fp: Array) -> dict[str, Any]:
    """ROC and PR points from the :func:`descending_runs` of the rows."""
    pos, neg = (tp[-1], fp[-1]) if len(tp) else (0.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fpr = np.r_[0.0, fp / neg]
        tpr = np.r_[0.0, tp / pos]
        recall = tpr
        precision = np.r_[1.0, tp / (tp + fp)]
    fpr, tpr = _thin(fpr, tpr)
    recall, precision = _thin(recall, precision)
    return {"roc": {"fpr": _json(fpr), "tpr": _json(tpr)},
            "pr": {"recall": _json(recall), "precision": _json(precision)}}


def _reliability(y: Array, p: Array, n_bins: int, ebin: Array) -> dict[str, Any]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    count = np.bincount(ebin, minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.bincount(ebin, weights=p, minlength=n_bins) / count
        frac = np.bincount(ebin, weights=y.astype(np.float64), minlength=n_bins) / count
    return {"bin_low": _json(edges[:-1]), "bin_high": _json(edges[1:]),
            "mean_predicted": _json(mean_p), "fraction_positive": _json(frac),
            "count": [int(c) for c in count]}


def _confusion(y: Array, yhat: Array, threshold: float) -> dict[str, Any]:
    cm = np.bincount(y * 2 + yhat, minlength=4).reshape(2, 2)
    return {"labels": [0, 1], "matrix": [[int(v) for v in row] for row in cm],
            "threshold": threshold}
