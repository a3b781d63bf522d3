"""Evaluation: task metrics, slices, fairness, bootstrap CIs and baseline comparison."""

from __future__ import annotations

from ._evaluate import EvalConfig, Evaluation, evaluate, get_evaluation

__all__ = ["EvalConfig", "Evaluation", "evaluate", "get_evaluation"]
