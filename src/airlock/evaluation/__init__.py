"""Evaluation: task metrics, slices, fairness, bootstrap CIs and baseline comparison.

``METRIC_CATALOGUE`` (a :class:`MetricCatalogue` of :class:`MetricInfo`: name, task,
direction, description) is the one list of metrics, read by the calculators, the gates and
the reports; another evaluation builds its own catalogue for ``gates.load_policy``.
``render_report`` renders the evaluation page from a stored result (results never import it;
``report_sections`` gives its sections for a page with its own shell);
``higher_is_better``, ``primary_metric``, ``metric_names`` and ``significant_regression``
say what a result's metrics mean for a reader (the model card uses them too).

The bootstrap engine is public, so every evaluation in airlock resamples the same way:

- ``rng_for(seed, *parts)``: a seeded generator per named component;
- ``resample_counts(rng, counts, n_boot, width=None)``: multinomial resamples of the rows
  as counts over a partition of them (``np.ones(n)``: the plain row bootstrap), in chunks
  of at most ``BOOTSTRAP_CHUNK_ELEMENTS`` values;
- ``percentile_ci(samples, confidence)`` and ``paired_p_value(deltas)``;
- ``ratio_ci(num, den, rng=, n_boot=, confidence=)``: ``sum(num) / sum(den)`` per column
  with a row-bootstrap percentile CI.
"""

from __future__ import annotations

from ._bootstrap import CHUNK_ELEMENTS as BOOTSTRAP_CHUNK_ELEMENTS
from ._bootstrap import paired_p_value, percentile_ci, ratio_ci, resample_counts, rng_for
from ._catalogue import CATALOGUE as METRIC_CATALOGUE
from ._catalogue import MetricCatalogue, MetricInfo
from ._evaluate import EvalConfig, Evaluation, evaluate, get_evaluation
from ._meaning import higher_is_better, metric_names, primary_metric, significant_regression
from ._page import render_report, report_sections

__all__ = ["BOOTSTRAP_CHUNK_ELEMENTS", "METRIC_CATALOGUE", "EvalConfig", "Evaluation",
           "MetricCatalogue", "MetricInfo", "evaluate", "get_evaluation",
           "higher_is_better", "metric_names", "paired_p_value", "percentile_ci",
           "primary_metric", "ratio_ci", "render_report", "report_sections",
           "resample_counts", "rng_for", "significant_regression"]
