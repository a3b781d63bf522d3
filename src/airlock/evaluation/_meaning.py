"""What the metrics of an evaluation mean for a reader: their direction, the metric a chart
shows, which keys of a slice or group are metrics, and whether a baseline delta is a
significant regression. Directions come from the evaluation itself, else from the one metric
catalogue (no list of its own)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airlock.report import num

from ._catalogue import CATALOGUE

__all__ = ["NON_METRIC_KEYS", "PRIMARY", "higher_is_better", "metric_names", "primary_metric",
           "significant_regression"]

PRIMARY = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "rmse"}
NON_METRIC_KEYS = frozenset({"support", "flagged"})


def higher_is_better(evaluation: Mapping[str, Any], metric: str) -> bool:
    """The evaluation's recorded direction of ``metric``, else the catalogue's."""
    declared = (evaluation.get("higher_is_better") or {}).get(metric)
    if declared is not None:
        return bool(declared)
    task = evaluation.get("task")
    return CATALOGUE.higher_is_better(metric, task if isinstance(task, str) and
                                      task in CATALOGUE.tasks else None)


def primary_metric(evaluation: Mapping[str, Any]) -> str | None:
    """The metric slice charts show: roc_auc (binary), accuracy (multiclass), rmse
    (regression), else the first overall metric."""
    overall = evaluation.get("overall") or {}
    wanted = PRIMARY.get(str(evaluation.get("task")))
    if wanted and wanted in overall:
        return wanted
    return next(iter(overall), None)


def metric_names(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    """Metric keys found in any of ``entries`` (slice cells or groups), first-seen order."""
    names: dict[str, None] = {}
    for entry in entries:
        for key, value in entry.items():
            if key not in NON_METRIC_KEYS and (isinstance(value, Mapping) or num(value)
                                               is not None or value is None):
                names.setdefault(key, None)
    return list(names)


def significant_regression(ev: Mapping[str, Any], metric: str, d: Mapping[str, Any]) -> bool:
    """The candidate is worse than the baseline and the paired CI excludes zero (or the
    p-value is under 1 - confidence)."""
    delta, lo, hi = num(d.get("delta")), num(d.get("ci_low")), num(d.get("ci_high"))
    if delta is None:
        return False
    up = higher_is_better(ev, metric)
    if (delta >= 0) if up else (delta <= 0):
        return False
    alpha = 1 - float((ev.get("config") or {}).get("confidence") or 0.95)
    p = num(d.get("p_value"))
    excludes = (hi is not None and hi < 0) if up else (lo is not None and lo > 0)
    return excludes or (p is not None and p < alpha)
