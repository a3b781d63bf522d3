"""Evaluation: task metrics, slices, fairness, bootstrap CIs and baseline comparison.

``METRIC_CATALOGUE`` (a :class:`MetricCatalogue` of :class:`MetricInfo`: name, task,
direction, description) is the one list of metrics, read by the calculators, the gates and
the reports; another evaluation builds its own catalogue for ``gates.load_policy``.
``render_report`` renders the evaluation page from a stored result (results never import it;
``report_sections`` gives its sections for a page with its own shell);
``higher_is_better``, ``primary_metric``, ``metric_names`` and ``significant_regression``
say what a result's metrics mean for a reader (the model card uses them too);
``slice_gates``, ``slice_support`` and ``slice_note`` say which slices a gate decision
gated, with the ``min_support`` it used. ``permutation_importance`` computes only the
``importance`` section (``evaluate(..., importance=REPEATS)`` adds it to an evaluation):
the drop of the primary metric per shuffled feature, equal to scikit-learn's on the same
seed, per slice, and mean |SHAP| for a tree model (extra ``explain``).

The bootstrap engine is public, so every evaluation in airlock resamples the same way:

- ``rng_for(seed, *parts)``: a seeded generator per named component;
- ``resample_counts(rng, counts, n_boot, width=None)``: multinomial resamples of the rows
  as counts over a partition of them (``np.ones(n)``: the plain row bootstrap), in chunks
  of at most ``BOOTSTRAP_CHUNK_ELEMENTS`` values;
- ``percentile_ci(samples, confidence)`` and ``paired_p_value(deltas)``;
- ``ratio_ci(num, den, rng=, n_boot=, confidence=)``: ``sum(num) / sum(den)`` per column
  with a row-bootstrap percentile CI.

So are the binary metric kernels, so every binary figure in airlock (the monitor's windows
of labelled requests too) equals the evaluation's: ``count_metrics(tp, fp, fn, tn)``
(accuracy, precision, recall, f1, tpr, fpr of confusion counts, any shape),
``rank_metrics(score, y, codes, n_groups)`` (ROC AUC and average precision per group) and
``row_losses(y, score)`` (per-row log loss and squared error).
"""

from __future__ import annotations

from ._binary import count_metrics, rank_metrics, row_losses
from ._bootstrap import CHUNK_ELEMENTS as BOOTSTRAP_CHUNK_ELEMENTS
from ._bootstrap import paired_p_value, percentile_ci, ratio_ci, resample_counts, rng_for
from ._catalogue import CATALOGUE as METRIC_CATALOGUE
from ._catalogue import MetricCatalogue, MetricInfo
from ._evaluate import (
    MSG_POLICY_NOT_LOADED,
    EvalConfig,
    Evaluation,
    GatePolicy,
    evaluate,
    get_evaluation,
    permutation_importance,
)
from ._gating import SliceGate, slice_gates, slice_note, slice_support
from ._intervals import wilson_ci
from ._meaning import higher_is_better, metric_names, primary_metric, significant_regression
from ._page import render_report, report_sections

__all__ = [
    "BOOTSTRAP_CHUNK_ELEMENTS",
    "METRIC_CATALOGUE",
    "MSG_POLICY_NOT_LOADED",
    "EvalConfig",
    "Evaluation",
    "GatePolicy",
    "MetricCatalogue",
    "MetricInfo",
    "SliceGate",
    "count_metrics",
    "evaluate",
    "get_evaluation",
    "higher_is_better",
    "metric_names",
    "paired_p_value",
    "percentile_ci",
    "permutation_importance",
    "primary_metric",
    "rank_metrics",
    "ratio_ci",
    "render_report",
    "report_sections",
    "resample_counts",
    "rng_for",
    "row_losses",
    "significant_regression",
    "slice_gates",
    "slice_note",
    "slice_support",
    "wilson_ci",
]
