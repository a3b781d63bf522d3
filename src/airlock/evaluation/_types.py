"""Shared shapes of the evaluation engine: what a task calculator takes and returns.

Every calculator works on numpy arrays and integer group codes (one pass per column, no
per-row Python). A metric value with its confidence interval is a plain dict so that the
stored evaluation is JSON as it stands:

    {"value": 0.91, "ci_low": 0.90, "ci_high": 0.92}

NaN (a metric undefined on a group, e.g. recall with no positives) is stored as None, with
a ``"reason"`` beside it saying why: ``{"value": None, "ci_low": None, "ci_high": None,
"reason": "no positive rows"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeVar

import numpy as np

__all__ = ["Delta", "MetricCI", "Target", "TaskCalculator"]

T = TypeVar("T")

#: {"value", "ci_low", "ci_high"}, and "reason" (text) when the value is None
MetricCI = dict[str, Any]
# {"candidate", "baseline", "delta", "ci_low", "ci_high", "p_value"}
Delta = dict[str, float | None]


@dataclass(frozen=True)
class Target:
    """Labels and model outputs of one evaluation, aligned row by row.

    binary:     y int8 0/1 (1 = positive class), pred float64 score of the positive class
    multiclass: y int64 class codes 0..K-1, pred float64 (n, K) probabilities, or None and
                ``labels`` int64 predicted codes when the model gives no probabilities
    regression: y float64, pred float64
    ranking:    y float64 relevance (0 = irrelevant), pred float64 score, query int64 codes
    """

    y: np.ndarray[Any, Any]
    pred: np.ndarray[Any, Any] | None
    classes: list[Any] = field(default_factory=list)
    labels: np.ndarray[Any, Any] | None = None
    query: np.ndarray[Any, Any] | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False,
                                  compare=False)

    @property
    def n(self) -> int:
        return len(self.y)

    @cached_property
    def descending(self) -> np.ndarray[Any, Any]:
        """Rows by descending score (tied rows contiguous, in no particular order): the one
        sort of a 1-d score, made the first time a metric needs it and reused by every
        group, slice and curve of this evaluation (it lives and dies with the Target)."""
        if self.pred is None or np.ndim(self.pred) != 1:
            raise ValueError("only a 1-d score has a descending order")
        order: np.ndarray[Any, Any] = np.argsort(-np.asarray(self.pred, dtype=np.float64))
        return order

    def cached(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()`` computed once per Target and ``key``: what every group, slice and curve
        of one evaluation derives from the same rows (validated arrays, predictions at a
        threshold, per-row losses) is computed the first time and reused; it lives and dies
        with the Target, like :attr:`descending`."""
        if key not in self._memo:
            self._memo[key] = make()
        value: T = self._memo[key]
        return value


class TaskCalculator(Protocol):
    """One per task (binary, multiclass, regression, ranking)."""

    name: str

    def metric_names(self) -> list[str]: ...

    def higher_is_better(self, metric: str) -> bool: ...

    def grouped(self, t: Target, codes: np.ndarray[Any, Any], n_groups: int, *,
                n_boot: int, seed: int, confidence: float) -> list[dict[str, MetricCI]]:
        """Every metric with its percentile-bootstrap CI for each group code 0..n_groups-1
        (the overall result is ``grouped`` with all codes 0 and n_groups=1)."""
        ...

    def paired(self, cand: Target, base: Target, codes: np.ndarray[Any, Any], n_groups: int,
               *, n_boot: int, seed: int, confidence: float) -> list[dict[str, Delta]]:
        """Candidate minus baseline per metric and group, from the same resampled rows."""
        ...

    def extras(self, t: Target) -> dict[str, Any]:
        """Curves, confusion matrix, reliability, residual quantiles: JSON-ready."""
        ...
